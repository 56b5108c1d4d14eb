"""/dashboard/faxes/send: sending a fax from the browser, on every plan, through the intake
service the API uses."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Account
from faxes.models import Fax
from tests import documents

pytestmark = pytest.mark.django_db

URL = "/dashboard/faxes/send"


@pytest.fixture
def starter_client(starter_account: Account) -> Client:
    client = Client()
    client.force_login(starter_account.owner)
    return client


def pdf(name: str, *texts: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, documents.text_pdf(*texts), "application/pdf")


def form(account: Account, **fields: object) -> dict[str, object]:
    return {
        "to": "+15551234567",
        "from_number": account.fax_numbers.get().number,
        "files": [pdf("a.pdf", "a1", "a2")],
        "header": "on",
        "token": "tok-1",
        **fields,
    }


def test_a_starter_account_sends_a_fax_with_a_cover_page(
    starter_client: Client, starter_account: Account, pipeline
) -> None:
    fields = form(
        starter_account,
        files=[pdf("a.pdf", "a1", "a2"), pdf("b.pdf", "b1")],
        cover="on",
        cover_to_name="Dr. Rivera",
        cover_subject="Referral",
    )

    response = starter_client.post(URL, fields)

    fax = Fax.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/faxes/{fax.pk}"
    assert (fax.account, fax.livemode, fax.api_key) == (starter_account, True, None)
    assert fax.page_count == 4
    with fax.document.open("rb") as stored:
        first, *rest = documents.page_texts(stored.read())
    assert "To: Dr. Rivera" in first
    assert rest == ["a1", "a2", "b1"]


def test_the_send_page_offers_the_accounts_numbers(
    starter_client: Client, starter_account: Account
) -> None:
    page = starter_client.get(URL).content.decode()

    assert starter_account.fax_numbers.get().number in page
    assert re.search(r'name="token" value="[^"]{20,}"', page)


def test_it_shows_a_bad_number_as_a_form_error(
    starter_client: Client, starter_account: Account
) -> None:
    response = starter_client.post(URL, form(starter_account, to="12345"))

    assert response.status_code == 400
    assert 'id="to-errors"' in response.content.decode()
    assert not Fax.objects.exists()


def test_it_names_the_file_that_cannot_be_faxed(
    starter_client: Client, starter_account: Account
) -> None:
    gif = SimpleUploadedFile("cat.gif", b"GIF89a" + b"0" * 100, "image/gif")

    response = starter_client.post(URL, form(starter_account, files=[pdf("a.pdf", "a"), gif]))

    assert response.status_code == 400
    errors = re.search(r'id="files-errors">([^<]*)<', response.content.decode()).group(1)
    assert errors.startswith("cat.gif: The document is not a PDF, TIFF, PNG or JPEG file")
    assert not Fax.objects.exists()


def test_it_refuses_a_number_that_is_not_the_accounts(
    starter_client: Client, starter_account: Account
) -> None:
    response = starter_client.post(URL, form(starter_account, from_number="+15559999999"))

    assert response.status_code == 400
    assert 'id="from_number-errors"' in response.content.decode()


def test_a_double_click_sends_once(
    starter_client: Client, starter_account: Account, pipeline
) -> None:
    content = documents.text_pdf("a")
    upload = lambda: SimpleUploadedFile("a.pdf", content, "application/pdf")  # noqa: E731

    first = starter_client.post(URL, form(starter_account, files=[upload()]))
    second = starter_client.post(URL, form(starter_account, files=[upload()]))

    assert Fax.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_it_needs_the_csrf_token(starter_account: Account) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(starter_account.owner)

    response = client.post(URL, form(starter_account))

    assert response.status_code == 403
    assert not Fax.objects.exists()


def test_it_needs_a_login(client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_header_can_be_turned_off(
    starter_client: Client, starter_account: Account, pipeline
) -> None:
    fields = form(starter_account, header_text="")
    del fields["header"]

    starter_client.post(URL, fields)

    assert Fax.objects.get().header is False
