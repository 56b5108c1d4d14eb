"""A person on the Starter plan sends a fax with a cover page from the dashboard."""

from __future__ import annotations

import re

import pytest

from faxes.models import Fax
from tests import documents
from tests.conftest import log_in
from tests.factories import AccountFactory

pytestmark = pytest.mark.browser


def test_a_two_file_fax_with_a_cover_page_is_sent_from_the_dashboard(
    live_server, transactional_db, page, pipeline, tmp_path
) -> None:
    account = AccountFactory(plan_slug="starter", with_number=True)
    first, second = tmp_path / "referral.pdf", tmp_path / "labs.pdf"
    first.write_bytes(documents.text_pdf("referral 1", "referral 2"))
    second.write_bytes(documents.text_pdf("labs 1"))
    log_in(page, live_server.url, account)

    page.click("nav >> text=Send a fax")
    page.fill("#id_to", "+15551234567")
    page.set_input_files("#id_files", [str(first), str(second)])
    page.check("#id_cover")
    page.fill("#id_cover_to_name", "Dr. Rivera")
    page.fill("#id_cover_subject", "Referral")
    page.click("#send-button")

    page.wait_for_url(re.compile(r".*/dashboard/faxes/fax_[A-Za-z0-9]+$"))
    assert page.text_content("#fax-page-count") == "4"
    assert "2 documents, with a cover page; header line on" in page.text_content("#fax-composition")
    fax = Fax.objects.get()
    assert page.url.endswith(fax.pk)
    assert (fax.account_id, fax.page_count) == (account.pk, 4)
