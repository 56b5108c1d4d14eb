"""compose_preview (faxes/services/compose.py): the fax as it would be sent, before it exists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.models import Account
from faxes.documents import DocumentError
from faxes.documents.compose import CoverPage
from faxes.documents.prepare import prepare_document
from faxes.services.compose import compose_preview, fax_header_line_shown
from tests import documents

pytestmark = pytest.mark.django_db

FROM, TO = "+15550100001", "+15550100002"
SEND_AT = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)


def prepared(*texts: str):
    return prepare_document(documents.text_pdf(*texts), declared_type=None)


def test_it_composes_the_cover_page_the_documents_and_the_header(account: Account) -> None:
    composed = compose_preview(
        documents=[prepared("a1", "a2"), prepared("b1")],
        cover=CoverPage(subject="Referral"),
        header=True,
        header_text="",
        account=account,
        from_number=FROM,
        to=TO,
        send_at=SEND_AT,
    )

    assert composed.page_count == 4
    pages = documents.page_texts(composed.pdf)
    assert "Subject: Referral" in pages[0]
    assert [page.split(" 2026")[0] for page in pages[1:]] == ["a1", "a2", "b1"]
    for number, page in enumerate(pages, start=1):
        assert f"2026-11-30 07:05 EST {account.name} Fax {FROM}" in page
        assert f"Page {number}/4" in page


def test_header_text_replaces_the_account_name(account: Account) -> None:
    composed = compose_preview(
        documents=[prepared("a1")],
        cover=None,
        header=True,
        header_text="Rivera Family Practice",
        account=account,
        from_number=FROM,
        to=TO,
    )

    [page] = documents.page_texts(composed.pdf)
    assert "Rivera Family Practice" in page
    assert account.name not in page


def test_without_the_header_the_pages_are_unstamped(account: Account) -> None:
    composed = compose_preview(
        documents=[prepared("a1")],
        cover=None,
        header=False,
        header_text="",
        account=account,
        from_number=FROM,
        to=TO,
    )

    assert documents.page_texts(composed.pdf) == ["a1"]


def test_it_refuses_more_than_350_pages(account: Account) -> None:
    document = prepare_document(documents.pdf_bytes(pages=350), declared_type=None)

    with pytest.raises(DocumentError) as error:
        compose_preview(
            documents=[document],
            cover=CoverPage(),
            header=True,
            header_text="",
            account=account,
            from_number=FROM,
            to=TO,
        )

    assert error.value.param == "documents"


def test_its_repr_holds_no_document(account: Account) -> None:
    composed = compose_preview(
        documents=[prepared("secret words")],
        cover=None,
        header=False,
        header_text="",
        account=account,
        from_number=FROM,
        to=TO,
    )

    assert "%PDF" not in repr(composed)


# The header a stored fax is shown with (downloads, previews) before it is sent.


def test_a_fax_not_sent_yet_shows_the_header_it_would_get_now(accepted_fax) -> None:
    fax = accepted_fax()

    with time_machine.travel(SEND_AT, tick=False):
        shown = fax_header_line_shown(fax)

    assert shown == f"2026-11-30 07:05 EST   {fax.account.name}   Fax {fax.from_number}"


def test_a_fax_scheduled_for_later_shows_the_header_of_its_send_time(accepted_fax) -> None:
    fax = accepted_fax()
    fax.send_at = datetime(2026, 12, 24, 14, 0, tzinfo=UTC)

    with time_machine.travel(SEND_AT, tick=False):
        shown = fax_header_line_shown(fax)

    assert shown.startswith("2026-12-24 09:00 EST")


def test_a_sent_fax_shows_the_header_it_was_sent_with(accepted_fax) -> None:
    fax = accepted_fax()
    fax.header_line = "2026-11-30 07:05 EST   Acme   Fax +15550100001"

    assert fax_header_line_shown(fax) == fax.header_line


def test_a_received_fax_shows_no_header(account: Account) -> None:
    from faxes.services.inbound import inbound_fax_simulate

    fax = inbound_fax_simulate(
        number=account.fax_numbers.get().number,
        from_="anonymous",
        document=documents.pdf_bytes(),
        livemode=True,
    )

    assert fax_header_line_shown(fax) is None
