"""Accepting a send (faxes/services/intake.py): the sender's number, the document, and the
Idempotency-Key, as a domain result the API turns into HTTP."""

from __future__ import annotations

import pytest

from accounts.models import Account
from faxes.documents import DocumentError
from faxes.models import Fax, FaxStatus
from faxes.serializers import fax_public
from faxes.services import intake
from faxes.services.status import fax_fail
from tests import documents, factories

pytestmark = pytest.mark.django_db


def request(**fields: object) -> intake.FaxRequest:
    values: dict = {
        "to": "+15551234567",
        "from_number": None,
        "document": intake.InlineDocument(
            content=documents.b64(documents.pdf_bytes(pages=2)), content_type="application/pdf"
        ),
        "document_url": None,
        "client_reference": None,
        **fields,
    }
    return intake.FaxRequest(**values)


def accept(account: Account, fax_request: intake.FaxRequest, **kwargs: object):
    options: dict = {"idempotency_key": None, "fingerprint": "f1", **kwargs}
    return intake.fax_accept(
        account=account, api_key=None, livemode=True, request=fax_request, **options
    )


def test_it_returns_the_fax_as_customers_see_it(account: Account, pipeline: list) -> None:
    accepted = accept(account, request())

    fax = Fax.objects.get(pk=accepted.fax_id)
    assert accepted.replayed is False
    assert accepted.representation == fax_public(fax)
    assert (fax.page_count, fax.from_number) == (2, account.fax_numbers.get().number)


def test_it_replays_the_first_answer_for_the_same_key(account: Account, pipeline: list) -> None:
    first = accept(account, request(), idempotency_key="k")
    fax_fail(fax=Fax.objects.get(pk=first.fax_id), reason="busy", message="Busy.")

    again = accept(account, request(), idempotency_key="k")

    assert again.replayed is True
    assert again.fax_id == first.fax_id
    assert again.representation["status"] == FaxStatus.QUEUED
    assert Fax.objects.count() == 1


def test_it_refuses_a_key_used_with_another_request(account: Account, pipeline: list) -> None:
    accept(account, request(), idempotency_key="k", fingerprint="f1")

    with pytest.raises(intake.IdempotencyConflict) as conflict:
        accept(account, request(), idempotency_key="k", fingerprint="f2")

    assert conflict.value.in_progress is False


def test_it_sends_from_the_accounts_first_number_by_default(account: Account) -> None:
    first = account.fax_numbers.get().number
    factories.FaxNumberFactory(account=account)

    assert intake.fax_from_number_choose(account=account, requested=None) == first


def test_it_refuses_a_number_of_another_account(account: Account, other_account: Account) -> None:
    theirs = other_account.fax_numbers.get().number

    with pytest.raises(intake.FromNumberRefused, match="not one of this account's numbers"):
        intake.fax_from_number_choose(account=account, requested=theirs)


def test_it_checks_the_from_number_before_converting_the_document(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted: list[bytes] = []
    monkeypatch.setattr(intake, "convert_document", lambda data, **kwargs: converted.append(data))

    with pytest.raises(intake.FromNumberRefused):
        accept(account, request(from_number="+15559999999"))

    assert converted == []


def test_a_document_that_cannot_be_faxed_names_the_field(account: Account) -> None:
    document = intake.InlineDocument(content=documents.b64(b"GIF89a..."), content_type="image/png")

    with pytest.raises(DocumentError) as error:
        accept(account, request(document=document))

    assert error.value.param == "document.content"
    assert not Fax.objects.exists()


def test_the_fingerprint_ignores_key_order_and_keeps_the_content() -> None:
    one = {"to": "+15551234567", "document": {"content": "QUJD", "content_type": "image/png"}}
    same = {"document": {"content_type": "image/png", "content": "QUJD"}, "to": "+15551234567"}
    other = {"to": "+15551234567", "document": {"content": "QUJE", "content_type": "image/png"}}

    def fingerprint(body: dict) -> str:
        return intake.request_fingerprint(method="POST", path="/v1/faxes", body=body)

    assert fingerprint(one) == fingerprint(same)
    assert fingerprint(one) != fingerprint(other)
