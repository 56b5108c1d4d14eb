"""/dashboard/faxes: the account's faxes and each one's history, sending a fax, on every plan
(plans gate only the API), the download of a fax's document and its cancel; /dashboard/inbox:
the faxes received on its numbers, with their pages rendered on the server."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Account
from accounts.permissions import Action, member_required, role_allows
from accounts.selectors import account_for_documents, account_of_member
from audit.services import actor_for_user, actor_from_request
from developers.selectors import webhook_deliveries_for_object
from fax_numbers.selectors import fax_numbers_of_account
from faxes.documents import DocumentError
from faxes.documents.base import MAX_PAGES, human_size
from faxes.documents.compose import CoverPage
from faxes.documents.render import render_thumbnails_png
from faxes.forms import FaxSendForm
from faxes.models import Direction, Fax, FaxStatus
from faxes.selectors import (
    fax_emails,
    fax_history,
    fax_of_member_account,
    faxes_newest_first,
    faxes_received_newest_first,
)
from faxes.serializers import MAX_DOCUMENTS
from faxes.services.cancel import (
    CancelCarrierUnavailable,
    CancelOutcome,
    FaxNotCancelable,
    fax_cancel,
)
from faxes.services.documents import (
    DocumentDownload,
    DocumentMissing,
    DocumentNotReady,
    DocumentPurged,
    DocumentUnavailable,
    StorageUnavailable,
    document_downloads_exhausted,
    fax_document_download,
)
from faxes.services.inbound import fax_mark_read, fax_page_view
from faxes.services.intake import (
    FaxRequest,
    FromNumberRefused,
    IdempotencyConflict,
    IdempotentAnswer,
    InlineDocument,
    fax_accept,
    fax_preview,
    idempotency_key_is_valid,
    idempotently,
    request_fingerprint,
)
from faxes.services.resend import ResendRefused, fax_resend, fax_resend_check
from sendfaxmail.lib import ratelimit
from sendfaxmail.lib.phone import InvalidPhoneNumber, normalize_e164

PAGE_SIZE = 50


def _account(request: HttpRequest) -> Account:
    return account_of_member(request)


def _livemode(request: HttpRequest) -> bool:
    """Which world the page shows: live faxes, or test faxes with `?mode=test`."""
    return request.GET.get("mode") != "test"


@member_required(Action.READ_FAXES)
@require_GET
def fax_list(request: HttpRequest) -> HttpResponse:
    livemode = _livemode(request)
    faxes = faxes_newest_first(account=_account(request), livemode=livemode)
    page = Paginator(faxes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "faxes/list.html", {"page": page, "livemode": livemode})


def _may_download(request: HttpRequest) -> bool:
    """Whether the fax page offers the download: the same check the download itself makes."""
    try:
        account_for_documents(request)
    except PermissionDenied:
        return False
    return True


@member_required(Action.READ_FAXES)
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    livemode = _livemode(request)
    faxes = faxes_received_newest_first(account=_account(request), livemode=livemode)
    page = Paginator(faxes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "faxes/inbox.html", {"page": page, "livemode": livemode})


def _fax(request: HttpRequest, fax_id: str) -> Fax:
    fax = fax_of_member_account(account=_account(request), fax_id=fax_id)
    if fax is None:
        raise Http404("No such fax.")
    return fax


def _pages_shown(fax: Fax) -> range:
    """The received pages the fax page shows as images (none until they are stored)."""
    if fax.direction != Direction.INBOUND or fax.status != FaxStatus.RECEIVED:
        return range(0)
    if not fax.document:
        # Deleted by the retention purge or on request: the pages are gone with it.
        return range(0)
    return range(1, (fax.page_count or 0) + 1)


@member_required(Action.READ_FAXES)
@require_GET
@never_cache
def fax_detail(request: HttpRequest, fax_id: str) -> HttpResponse:
    fax = _fax(request, fax_id)
    if fax.direction == Direction.INBOUND and fax.status == FaxStatus.RECEIVED:
        fax_mark_read(fax=fax)
    context = {
        "fax": fax,
        "can_download": _may_download(request),
        "can_resend": _may_resend(request, fax),
        "resend_token": secrets.token_urlsafe(24),
        **_live_context(request, fax),
        "deliveries": webhook_deliveries_for_object(account_id=fax.account_id, object_id=fax.pk),
        "emails": fax_emails(fax=fax),
        "pages": _pages_shown(fax),
    }
    return render(request, "faxes/detail.html", context)


def _may_resend(request: HttpRequest, fax: Fax) -> bool:
    """Whether the page offers Resend: the member may send, and the fax has its document."""
    if not role_allows(request.membership.role, Action.SEND_FAXES):
        return False
    try:
        fax_resend_check(fax=fax)
    except DocumentUnavailable:
        return False
    return True


@member_required(Action.READ_FAXES)
@require_GET
@never_cache
def fax_live(request: HttpRequest, fax_id: str) -> HttpResponse:
    """The live parts of a fax's page (status, pages, calls, history) as an HTML fragment, which
    the page fetches every two seconds until the fax is finished (static/js/dashboard.js)."""
    fax = _fax(request, fax_id)
    return render(request, "faxes/_live.html", {"fax": fax, **_live_context(request, fax)})


def _live_context(request: HttpRequest, fax: Fax) -> dict[str, Any]:
    """What the live parts of the fax page show besides the fax itself: the Cancel button goes
    with them, so that it leaves the page once the fax is finished."""
    return {
        "events": fax_history(fax=fax),
        "attempts": _attempts_shown(fax),
        "can_cancel": (
            fax.direction == Direction.OUTBOUND
            and not fax.is_terminal
            and role_allows(request.membership.role, Action.SEND_FAXES)
        ),
    }


def _attempts_shown(fax: Fax) -> list[dict[str, Any]]:
    """Each finished call, as the API lists them, with its times as datetimes."""
    return [
        {
            "number": attempt.get("number"),
            "started_at": parse_datetime(attempt["started_at"])
            if attempt.get("started_at")
            else None,
            "completed_at": parse_datetime(attempt["completed_at"])
            if attempt.get("completed_at")
            else None,
            "status": attempt.get("status"),
            "failure_reason": attempt.get("failure_reason") or "",
            "pages_delivered": attempt.get("pages_delivered"),
        }
        for attempt in fax.attempts
    ]


def document_response(download: DocumentDownload) -> StreamingHttpResponse:
    """A document as an attachment, streamed as it is decrypted, never stored by a cache."""
    response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
    response["Content-Length"] = str(download.size)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def document_unavailable_response(
    request: HttpRequest, fax: Fax, error: DocumentUnavailable
) -> HttpResponse:
    """The page for a document that cannot be downloaded, with the status the API would give."""
    if isinstance(error, DocumentMissing):
        status = 404
    elif isinstance(error, DocumentPurged):
        status = 410
    elif isinstance(error, DocumentNotReady):
        status = 409
    elif isinstance(error, StorageUnavailable):
        status = 503
    else:
        status = 410
    return render(
        request,
        "faxes/document_unavailable.html",
        {"fax": fax, "message": error.message},
        status=status,
    )


@member_required(Action.READ_FAXES)
@require_GET
def fax_document(request: HttpRequest, fax_id: str) -> HttpResponse:
    """The fax's PDF for members whose role may read faxes; the download is recorded in the
    audit log. A GET with no other effect, so it needs no CSRF token."""
    fax = fax_of_member_account(account=account_for_documents(request), fax_id=fax_id)
    if fax is None:
        raise Http404("No such fax.")
    retry_after = document_downloads_exhausted(account_id=fax.account_id)
    if retry_after is not None:
        message = f"This account's downloads are used up for now. Try again in {retry_after} s."
        response = render(
            request, "faxes/document_unavailable.html", {"fax": fax, "message": message}, status=429
        )
        response["Retry-After"] = str(retry_after)
        return response
    try:
        download = fax_document_download(
            fax=fax, actor=actor_from_request(request), via="dashboard"
        )
    except DocumentUnavailable as error:
        return document_unavailable_response(request, fax, error)
    return document_response(download)


@member_required(Action.SEND_FAXES)
@require_POST
def fax_cancel_view(request: HttpRequest, fax_id: str) -> HttpResponse:
    """The Cancel button of a fax's page, for members whose role may send faxes."""
    fax = _fax(request, fax_id)
    try:
        outcome = fax_cancel(fax=fax, actor=actor_for_user(request.user, request))
    except FaxNotCancelable as refused:
        messages.error(request, f"This fax is {refused.status} and can no longer be canceled.")
    except CancelCarrierUnavailable:
        messages.error(request, "The carrier could not be reached; nothing changed. Try again.")
    else:
        if outcome == CancelOutcome.CANCELED:
            messages.success(request, "Canceled: the fax will not be sent.")
        else:
            messages.success(
                request, "Cancel requested: the carrier is stopping the fax, if it is in time."
            )
    return redirect("faxes:dashboard_detail", fax_id=fax.pk)


@member_required(Action.SEND_FAXES)
@require_POST
def fax_resend_view(request: HttpRequest, fax_id: str) -> HttpResponse:
    """The Resend form of a fax's page (an optional new number), for members whose role may
    send faxes. The form's token is the Idempotency-Key, so that a double click resends once."""
    fax = _fax(request, fax_id)
    to = request.POST.get("to", "").strip() or None
    token = request.POST.get("token", "")
    if to is not None:
        try:
            to = normalize_e164(to)
        except InvalidPhoneNumber as error:
            messages.error(request, f"Not resent: {error}")
            return redirect("faxes:dashboard_detail", fax_id=fax.pk)

    def resend() -> IdempotentAnswer:
        new = fax_resend(fax=fax, api_key=None, to=to)
        return IdempotentAnswer(status=201, body={"id": new.id}, fax_id=new.id)

    try:
        answer = idempotently(
            account=fax.account,
            livemode=fax.livemode,
            key=f"dashboard:resend:{token}" if _resend_token_is_valid(token) else None,
            fingerprint=request_fingerprint(method="POST", path=request.path, body={"to": to}),
            run=resend,
        )
    except (DocumentUnavailable, ResendRefused, FromNumberRefused) as error:
        messages.error(request, f"Not resent: {error.message}")
        return redirect("faxes:dashboard_detail", fax_id=fax.pk)
    except IdempotencyConflict as conflict:
        messages.error(request, _conflict_message(conflict, "resend"))
        return redirect("faxes:dashboard_detail", fax_id=fax.pk)
    messages.success(request, f"Resent as a new fax. The original {fax.pk} is unchanged.")
    return redirect("faxes:dashboard_detail", fax_id=answer.fax_id)


def _conflict_message(conflict: IdempotencyConflict, what: str) -> str:
    """What a second submission of a Send or Resend form is told. While the first one still
    runs, reloading (a new token) would send twice: the member is sent to the list instead."""
    if conflict.in_progress:
        return (
            f"Your first click is still being handled. Check the Faxes list for the {what} in a "
            "moment before sending again."
        )
    return "This form was already sent with other values. Reload the page."


def _resend_token_is_valid(token: str) -> bool:
    """Whether the Resend form's token may key its idempotency: the length the page gives, and
    printable ASCII (a NUL byte, which PostgreSQL refuses in text, would otherwise be a 500)."""
    return 16 <= len(token) <= 64 and idempotency_key_is_valid(token)


@member_required(Action.READ_FAXES)
@require_GET
@never_cache
def fax_page_image(request: HttpRequest, fax_id: str, page_number: int) -> HttpResponse:
    """One page of a received fax as a PNG, for the account's members only."""
    fax = _fax(request, fax_id)
    if page_number not in _pages_shown(fax):
        raise Http404("No such page.")
    try:
        image = fax_page_view(fax=fax, page_number=page_number, actor=actor_from_request(request))
    except DocumentError:
        raise Http404("The page cannot be shown.") from None
    return HttpResponse(image, content_type="image/png")


@member_required(Action.SEND_FAXES)
@require_http_methods(["GET", "POST"])
def fax_send(request: HttpRequest) -> HttpResponse:
    """Send a fax from the browser through the API's intake service: the same checks, and the
    form's token as Idempotency-Key, so that a double click sends once."""
    account = _account(request)
    numbers = _numbers(account)
    if request.method == "GET":
        initial = {"token": secrets.token_urlsafe(24), "header": True}
        form = FaxSendForm(initial=initial, numbers=numbers)
        return render(request, "faxes/send.html", _send_context(form, numbers))
    form = _bound_send_form(request, numbers)
    if form.is_valid():
        values = form.cleaned_data
        body = _request_body(values)
        try:
            accepted = fax_accept(
                account=account,
                api_key=None,
                livemode=True,
                request=_fax_request(body, values),
                idempotency_key=f"dashboard:{values['token']}",
                fingerprint=request_fingerprint(method="POST", path=request.path, body=body),
            )
        except FromNumberRefused as refused:
            form.add_error("from_number", refused.message)
        except DocumentError as error:
            form.add_error("files", _file_error(error, values["files"]))
        except IdempotencyConflict as conflict:
            form.add_error(None, _conflict_message(conflict, "fax"))
        else:
            return redirect("faxes:dashboard_detail", accepted.fax_id)
    return render(request, "faxes/send.html", _send_context(form, numbers), status=400)


@member_required(Action.SEND_FAXES)
@require_POST
@never_cache
def fax_send_preview(request: HttpRequest) -> HttpResponse:
    """The preview step of the Send page: the same form, checked as the send checks it, composed
    in memory as it would be sent (cover page and header included) and answered as an HTML
    fragment with the page count and thumbnails of the first pages. Nothing is stored: the
    documents are PHI, and the Send posts them again. Each member may preview PREVIEW_RATE
    times a minute (a 429 past that, before the upload is read): a preview converts, merges and
    stamps up to 350 pages, about a second of CPU, and unlike a send it leaves nothing behind."""
    account = _account(request)
    numbers = _numbers(account)
    usage = ratelimit.hit(
        bucket="send-preview", key_id=str(request.membership.pk), rate=PREVIEW_RATE
    )
    if usage is not None and not usage.allowed:
        form = _unbound_send_form(
            numbers,
            f"You can preview {PREVIEW_RATE.limit} faxes a minute. "
            f"Try again in {usage.reset} seconds.",
        )
        response = render(request, "faxes/_send_preview_errors.html", {"form": form}, status=429)
        response["Retry-After"] = str(usage.reset)
        return response
    form = _bound_send_form(request, numbers)
    if form.is_valid():
        values = form.cleaned_data
        body = _request_body(values)
        try:
            preview = fax_preview(account=account, request=_fax_request(body, values))
            thumbnails = render_thumbnails_png(preview.pdf, limit=PREVIEW_THUMBNAILS)
        except FromNumberRefused as refused:
            form.add_error("from_number", refused.message)
        except DocumentError as error:
            form.add_error("files", _file_error(error, values["files"]))
        else:
            context = {
                "page_count": preview.page_count,
                "thumbnails": [base64.b64encode(png).decode() for png in thumbnails],
                "more": preview.page_count - len(thumbnails),
                "values": values,
            }
            return render(request, "faxes/_send_preview.html", context)
    return render(request, "faxes/_send_preview_errors.html", {"form": form}, status=400)


# The preview renders thumbnails of at most this many pages (a fax may have 350): enough to
# check the cover page, the header and the first documents, at a bounded cost per request.
PREVIEW_THUMBNAILS = 12
# Enough for a person correcting a form and previewing again, not for a script: at most ten
# previews' work (a second or so each) a minute per member. Counted in Redis; let through
# when Redis does not answer.
PREVIEW_RATE = ratelimit.Rate(limit=10, window=60)


def _numbers(account: Account) -> list[str]:
    return list(fax_numbers_of_account(account=account).values_list("number", flat=True))


def _send_context(form: FaxSendForm, numbers: list[str]) -> dict[str, Any]:
    return {
        "form": form,
        "numbers": numbers,
        "max_files": MAX_DOCUMENTS,
        "max_bytes": settings.MAX_DOCUMENT_BYTES,
        "max_size": human_size(settings.MAX_DOCUMENT_BYTES),
        "max_pages": MAX_PAGES,
    }


def _bound_send_form(request: HttpRequest, numbers: list[str]) -> FaxSendForm:
    """The posted Send form. A body larger than Django accepts is refused before Django reads
    (and spools to disk) the upload: the form is then an unbound one carrying that error."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return _unbound_send_form(
            numbers,
            f"The files are too large: at most {human_size(settings.MAX_DOCUMENT_BYTES)} in all.",
        )
    return FaxSendForm(request.POST, request.FILES, numbers=numbers)


def _unbound_send_form(numbers: list[str], error: str) -> FaxSendForm:
    """A Send form that was not read (the upload was refused unread), carrying `error`."""
    form = FaxSendForm(numbers=numbers)
    # Django's add_error expects the cleaned data that only a bound form has.
    form.cleaned_data = {}
    form.add_error(None, error)
    return form


def _request_body(values: dict[str, Any]) -> dict[str, Any]:
    """The send as the API would receive it, for the idempotency fingerprint and the request."""
    cover = {
        name: values[f"cover_{name}"]
        for name in ("to_name", "from_name", "subject", "message")
        if values[f"cover_{name}"]
    }
    return {
        "to": values["to"],
        "from": values["from_number"],
        "documents": [
            {"content": base64.b64encode(upload.read()).decode()} for upload in values["files"]
        ],
        "cover_page": cover if values["cover"] else None,
        "header": values["header"],
        "header_text": values["header_text"],
        "retry": {
            "attempts": values["retry_attempts"],
            "interval_seconds": values["retry_interval_seconds"],
        },
    }


def _fax_request(body: dict[str, Any], values: dict[str, Any]) -> FaxRequest:
    return FaxRequest(
        to=body["to"],
        from_number=body["from"],
        document=None,
        document_url=None,
        client_reference=None,
        documents=tuple(InlineDocument(item["content"], None) for item in body["documents"]),
        cover_page=CoverPage(**body["cover_page"]) if body["cover_page"] is not None else None,
        header=body["header"],
        header_text=body["header_text"],
        retry_attempts=body["retry"]["attempts"],
        retry_interval_seconds=body["retry"]["interval_seconds"],
    )


def _file_error(error: DocumentError, files: list[Any]) -> str:
    """The intake's message, naming the file at fault (`documents[1]` is the second file)."""
    param = error.param or ""
    if param.startswith("documents["):
        index = int(param[len("documents[") : param.index("]")])
        return f"{files[index].name}: {error.message}"
    return error.message
