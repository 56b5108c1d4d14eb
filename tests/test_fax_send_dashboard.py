"""/dashboard/faxes/send: sending a fax from the browser, on every plan, through the intake
service the API uses."""

from __future__ import annotations

import base64
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.models import Account, Role
from faxes import views
from faxes.documents import DocumentError
from faxes.models import Fax, IdempotencyKey
from faxes.services.intake import IdempotencyConflict
from tests import documents
from tests.factories import member

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


def test_a_second_click_while_the_first_runs_is_told_to_wait_not_to_reload(
    starter_client: Client, starter_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def first_still_running(**kwargs: object) -> None:
        raise IdempotencyConflict(in_progress=True)

    monkeypatch.setattr(views, "fax_accept", first_still_running)

    response = starter_client.post(URL, form(starter_account))

    page = response.content.decode()
    assert response.status_code == 400
    assert "Your first click is still being handled" in page
    assert "Reload the page" not in page


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


def test_it_refuses_files_larger_than_django_reads_with_the_forms_message(
    starter_client: Client, starter_account: Account, settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = SimpleUploadedFile("big.pdf", documents.text_pdf("x") + b" " * 2000, "application/pdf")

    response = starter_client.post(URL, form(starter_account, files=[big]))

    assert response.status_code == 400
    assert "The files are too large: at most 20 MB in all." in response.content.decode()
    assert not Fax.objects.exists()


def test_the_header_can_be_turned_off(
    starter_client: Client, starter_account: Account, pipeline
) -> None:
    fields = form(starter_account, header_text="")
    del fields["header"]

    starter_client.post(URL, fields)

    assert Fax.objects.get().header is False


def test_it_refuses_a_header_name_the_header_line_cannot_print(
    starter_client: Client, starter_account: Account
) -> None:
    response = starter_client.post(URL, form(starter_account, header_text="诊所 Clinic"))

    assert response.status_code == 400
    assert "The fax header line cannot print 诊, 所:" in response.content.decode()
    assert not Fax.objects.exists()


def test_it_refuses_a_cover_page_it_cannot_print(
    starter_client: Client, starter_account: Account
) -> None:
    fields = form(starter_account, cover="on", cover_subject="Ergebnisse ✓")

    response = starter_client.post(URL, fields)

    assert response.status_code == 400
    assert "The cover page cannot print ✓:" in response.content.decode()
    assert not Fax.objects.exists()


PREVIEW = "/dashboard/faxes/send/preview"


def thumbnails(page: str) -> list[bytes]:
    return [
        base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    ]


def test_the_preview_counts_the_pages_with_the_cover_page(
    starter_client: Client, starter_account: Account
) -> None:
    fields = form(starter_account, files=[pdf("a.pdf", "a1", "a2"), pdf("b.pdf", "b1")], cover="on")

    response = starter_client.post(PREVIEW, fields)

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-page-count="4"' in page
    assert len(thumbnails(page)) == 4


def test_the_preview_sends_nothing_and_keeps_nothing(
    starter_client: Client, starter_account: Account, pipeline
) -> None:
    starter_client.post(PREVIEW, form(starter_account))

    assert not Fax.objects.exists()
    assert not IdempotencyKey.objects.exists()
    assert pipeline == []


def test_the_preview_thumbnails_are_small_images_of_the_pages(
    starter_client: Client, starter_account: Account
) -> None:
    page = starter_client.post(PREVIEW, form(starter_account)).content.decode()

    image = Image.open(io.BytesIO(thumbnails(page)[0]))
    assert image.format == "PNG"
    assert image.size == (153, 198)  # a Letter page at a quarter of 72 dpi


def test_the_preview_shows_the_header_line(
    starter_client: Client, starter_account: Account
) -> None:
    without = form(starter_account, files=[pdf("a.pdf", "a")])
    del without["header"]

    stamped = thumbnails(starter_client.post(PREVIEW, form(starter_account)).content.decode())
    plain = thumbnails(starter_client.post(PREVIEW, without).content.decode())

    top = (0, 0, 153, 6)  # the header line's band at the top of the page
    assert Image.open(io.BytesIO(plain[0])).crop(top).getextrema() == (255, 255)
    assert Image.open(io.BytesIO(stamped[0])).crop(top).getextrema()[0] < 128


def test_the_preview_shows_at_most_twelve_pages(
    starter_client: Client, starter_account: Account
) -> None:
    fields = form(starter_account, files=[pdf("long.pdf", *[f"p{n}" for n in range(15)])])

    page = starter_client.post(PREVIEW, fields).content.decode()

    assert len(thumbnails(page)) == 12
    assert re.search(r'id="preview-more">\+ 3 more pages<', page)


def test_the_preview_refuses_a_bad_number_with_the_forms_message(
    starter_client: Client, starter_account: Account
) -> None:
    response = starter_client.post(PREVIEW, form(starter_account, to="12345"))

    assert response.status_code == 400
    assert "To (fax number): Give the number in E.164 form" in response.content.decode()


def test_the_preview_names_the_file_that_cannot_be_faxed(
    starter_client: Client, starter_account: Account
) -> None:
    gif = SimpleUploadedFile("cat.gif", b"GIF89a" + b"0" * 100, "image/gif")

    response = starter_client.post(PREVIEW, form(starter_account, files=[pdf("a.pdf", "a"), gif]))

    assert response.status_code == 400
    assert "cat.gif: The document is not a PDF, TIFF, PNG or JPEG file" in response.content.decode()


def test_the_preview_refuses_a_damaged_pdf(
    starter_client: Client, starter_account: Account
) -> None:
    damaged = SimpleUploadedFile("scan.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50, "application/pdf")

    response = starter_client.post(PREVIEW, form(starter_account, files=[damaged]))

    assert response.status_code == 400
    assert "scan.pdf: " in response.content.decode()


def test_the_preview_refuses_more_pages_than_a_fax_may_have(
    starter_client: Client, starter_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("faxes.documents.compose.MAX_PAGES", 2)

    response = starter_client.post(PREVIEW, form(starter_account, cover="on"))

    assert response.status_code == 400
    assert "a fax may have at most 2" in response.content.decode()


def test_the_preview_refuses_a_number_that_is_not_the_accounts(
    starter_client: Client, starter_account: Account
) -> None:
    response = starter_client.post(PREVIEW, form(starter_account, from_number="+15559999999"))

    assert response.status_code == 400
    assert 'id="preview-from_number-error"' in response.content.decode()


def test_the_preview_needs_the_csrf_token(starter_account: Account) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(starter_account.owner)

    response = client.post(PREVIEW, form(starter_account))

    assert response.status_code == 403


def test_the_preview_is_only_for_roles_that_send(starter_account: Account) -> None:
    client = Client()
    client.force_login(member(starter_account, Role.VIEWER))

    response = client.post(PREVIEW, form(starter_account))

    assert response.status_code == 403


def test_the_preview_refuses_files_larger_than_django_reads(
    starter_client: Client, starter_account: Account, settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = SimpleUploadedFile("big.pdf", documents.text_pdf("x") + b" " * 2000, "application/pdf")

    response = starter_client.post(PREVIEW, form(starter_account, files=[big]))

    assert response.status_code == 400
    assert "The files are too large: at most 20 MB in all." in response.content.decode()


def test_a_member_previews_at_most_ten_faxes_a_minute(
    starter_client: Client, starter_account: Account
) -> None:
    answers = [starter_client.post(PREVIEW, form(starter_account)) for _ in range(11)]

    assert [answer.status_code for answer in answers] == [200] * 10 + [429]
    assert "You can preview 10 faxes a minute." in answers[-1].content.decode()
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60


def test_the_preview_limit_is_each_members_own(
    starter_client: Client, starter_account: Account
) -> None:
    for _ in range(11):
        starter_client.post(PREVIEW, form(starter_account))
    colleague = Client()
    colleague.force_login(member(starter_account, Role.SENDER))

    assert colleague.post(PREVIEW, form(starter_account)).status_code == 200


def test_the_preview_answers_only_a_post(starter_client: Client) -> None:
    assert starter_client.get(PREVIEW).status_code == 405


def test_a_previewed_form_is_then_sent_once(
    starter_client: Client, starter_account: Account, pipeline
) -> None:
    starter_client.post(PREVIEW, form(starter_account))
    starter_client.post(URL, form(starter_account))
    starter_client.post(URL, form(starter_account))

    assert Fax.objects.count() == 1


def test_the_send_page_shows_the_limits_up_front(starter_client: Client) -> None:
    page = starter_client.get(URL).content.decode()

    limits = re.search(r'id="send-limits">([^<]*)<', page).group(1)
    assert "up to 10 files, 20 MB and 350 pages in all" in limits


def test_the_send_page_proposes_two_redials_300_seconds_apart(starter_client: Client) -> None:
    page = starter_client.get(URL).content.decode()

    assert re.search(r'name="retry_attempts" value="2"', page)
    assert re.search(r'name="retry_interval_seconds" value="300"', page)


def test_a_send_keeps_the_redial_chosen(
    starter_client: Client, starter_account: Account, pipeline
) -> None:
    starter_client.post(
        URL, form(starter_account, retry_attempts="3", retry_interval_seconds="600")
    )

    fax = Fax.objects.get()
    assert (fax.retry_attempts, fax.retry_interval_seconds) == (3, 600)


@pytest.mark.parametrize(
    ("field", "value"),
    [("retry_attempts", "6"), ("retry_attempts", "-1"), ("retry_interval_seconds", "59")],
)
def test_it_refuses_a_redial_out_of_bounds(
    starter_client: Client, starter_account: Account, field: str, value: str
) -> None:
    response = starter_client.post(URL, form(starter_account, **{field: value}))

    assert response.status_code == 400
    assert f'id="{field}-errors"' in response.content.decode()
    assert not Fax.objects.exists()


def test_a_preview_that_cannot_be_drawn_is_a_400(
    starter_client: Client, starter_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(pdf: bytes, *, limit: int) -> list[bytes]:
        raise DocumentError("The document cannot be rendered.")

    monkeypatch.setattr("faxes.views.render_thumbnails_png", unreadable)

    response = starter_client.post(PREVIEW, form(starter_account))

    assert response.status_code == 400
    assert "Files: The document cannot be rendered." in response.content.decode()


def test_the_preview_asks_for_a_file(starter_client: Client, starter_account: Account) -> None:
    response = starter_client.post(PREVIEW, form(starter_account, files=[]))

    assert response.status_code == 400
    assert "Files: Choose at least one file to fax." in response.content.decode()
