"""A person on the Starter plan sends a fax with a cover page from the dashboard: two files (one
chosen, one dropped), the preview with its page count, the send, and the fax page following the
fax to `delivered` without a reload, in Chromium."""

from __future__ import annotations

import base64
import re

import pytest

from faxes import tasks
from faxes.carrier import decode_client_state
from faxes.models import Fax, FaxStatus
from faxes.services import pipeline as fax_pipeline
from tests import documents
from tests.conftest import log_in
from tests.factories import AccountFactory, FaxFactory

pytestmark = pytest.mark.browser

FAX_PAGE = re.compile(r".*/dashboard/faxes/fax_[A-Za-z0-9]+$")


def drop_file(page, selector: str, name: str, content: bytes) -> None:
    """Drop a file on `selector` as a person dragging it from their desktop would."""
    transfer = page.evaluate_handle(
        """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "application/pdf" }));
            return transfer;
        }""",
        [name, base64.b64encode(content).decode()],
    )
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def play_carrier(fax_id: str, pipeline: list, page) -> None:
    """The worker submits the fax; the simulated carrier then reports each of its events, and
    the open fax page shows each one as it comes."""
    fax_pipeline.fax_submit_to_carrier(fax_id=fax_id)
    steps = [
        kwargs
        for name, _, kwargs in pipeline
        if name == "faxes.tasks.simulator_step_task"
        and decode_client_state(kwargs["client_state"]) == fax_id
    ]
    assert steps, pipeline
    for kwargs in steps:
        tasks.simulator_step_task.run(**kwargs)
        event = Fax.objects.get(pk=fax_id).events.order_by("-id").first().type
        page.wait_for_function(
            "type => document.getElementById('fax-events').textContent.includes(type)",
            arg=event,
            timeout=30_000,
        )


def test_a_two_file_fax_with_a_cover_page_is_previewed_sent_and_followed_to_delivered(
    live_server, transactional_db, page, pipeline, tmp_path
) -> None:
    account = AccountFactory(plan_slug="starter", with_number=True)
    first = tmp_path / "referral.pdf"
    first.write_bytes(documents.text_pdf("referral 1", "referral 2"))
    log_in(page, live_server.url, account)

    page.click("nav >> text=Send a fax")
    page.fill("#id_to", "+15551234567")
    page.set_input_files("#id_files", [str(first)])
    drop_file(page, "#drop-zone", "labs.pdf", documents.text_pdf("labs 1"))
    page.check("#id_cover")
    page.fill("#id_cover_to_name", "Dr. Rivera")
    page.fill("#id_cover_subject", "Referral")
    assert page.locator("#file-list li").all_text_contents()[1].startswith("labs.pdf")
    assert page.is_disabled("#send-button")

    page.click("#preview-button")
    page.wait_for_selector("#preview-result")
    assert page.text_content("#preview-page-count") == "4"
    assert page.locator("#preview-thumbnails img").count() == 4
    assert not Fax.objects.exists()

    page.click("#send-button")
    page.wait_for_url(FAX_PAGE)
    fax = Fax.objects.get()
    assert page.url.endswith(fax.pk)
    assert (fax.account_id, fax.page_count, fax.retry_attempts) == (account.pk, 4, 2)
    assert "2 documents, with a cover page; header line on" in page.text_content("#fax-composition")
    assert page.text_content("#fax-status .badge") == "queued"
    assert page.locator("#cancel-fax-form").count() == 1
    page.evaluate("window.stillTheSamePage = true")

    play_carrier(fax.pk, pipeline, page)

    page.wait_for_function(
        "document.querySelector('#fax-status .badge').textContent === 'delivered'",
        timeout=30_000,
    )
    assert page.text_content("#fax-pages-delivered") == "4"
    # A delivered fax can no longer be canceled: the button went with the last update.
    assert page.locator("#cancel-fax-form").count() == 0
    assert page.evaluate("window.stillTheSamePage") is True


def test_the_preview_shows_what_is_wrong_and_sending_stays_off(
    live_server, transactional_db, page, tmp_path
) -> None:
    account = AccountFactory(plan_slug="starter", with_number=True)
    picture = tmp_path / "cat.gif.pdf"
    picture.write_bytes(b"GIF89a" + b"0" * 100)
    log_in(page, live_server.url, account)

    page.goto(f"{live_server.url}/dashboard/faxes/send")
    page.fill("#id_to", "+15551234567")
    page.set_input_files("#id_files", [str(picture)])
    page.click("#preview-button")

    page.wait_for_selector("#preview-errors")
    assert "cat.gif.pdf: The document is not a PDF" in page.text_content("#preview-errors")
    assert page.is_disabled("#send-button")
    assert not Fax.objects.exists()


def test_a_preview_answered_after_the_form_changed_does_not_enable_sending(
    live_server, transactional_db, page, tmp_path
) -> None:
    account = AccountFactory(plan_slug="starter", with_number=True)
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(documents.text_pdf("page one"))
    log_in(page, live_server.url, account)
    page.goto(f"{live_server.url}/dashboard/faxes/send")
    page.fill("#id_to", "+15551234567")
    page.set_input_files("#id_files", [str(letter)])
    held = []
    page.route("**/dashboard/faxes/send/preview", lambda route: held.append(route))

    page.click("#preview-button")
    while not held:
        page.wait_for_timeout(50)
    page.fill("#id_to", "+15550100123")  # changed while the preview is on its way
    held[0].continue_()
    page.wait_for_function("!document.getElementById('preview-button').hasAttribute('aria-busy')")

    assert page.is_disabled("#send-button")
    assert page.query_selector("#preview-result") is None
    assert "preview it again" in page.text_content("#preview")


def test_the_fax_page_stops_asking_once_the_fax_is_finished(
    live_server, transactional_db, page
) -> None:
    account = AccountFactory(plan_slug="starter", with_number=True)
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    asked: list[str] = []
    page.on(
        "request", lambda request: asked.append(request.url) if "/live" in request.url else None
    )
    log_in(page, live_server.url, account)
    page.goto(f"{live_server.url}/dashboard/faxes/{fax.pk}")

    Fax.objects.filter(pk=fax.pk).update(status=FaxStatus.DELIVERED, pages_delivered=1)
    page.wait_for_function(
        "document.querySelector('#fax-status .badge').textContent === 'delivered'",
        timeout=30_000,
    )
    asked_until_delivered = len(asked)
    page.wait_for_timeout(5000)  # two and a half polling intervals

    assert len(asked) == asked_until_delivered
