"""compose_preview (faxes/services/compose.py): the fax as it would be sent, before it exists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import Account
from faxes.documents import DocumentError
from faxes.documents.compose import CoverPage
from faxes.documents.prepare import prepare_document
from faxes.services.compose import compose_preview
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
