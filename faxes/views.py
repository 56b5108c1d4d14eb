"""/dashboard/faxes: the account's faxes and each one's history, and the owner's download of a
fax's document. Read-only, on every plan."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import Account
from accounts.selectors import account_for_documents, account_of_member
from audit.services import actor_from_request
from developers.selectors import webhook_deliveries_for_object
from faxes.models import Fax
from faxes.selectors import fax_history, fax_of_member_account, faxes_newest_first
from faxes.services.documents import (
    DocumentDownload,
    DocumentMissing,
    DocumentNotReady,
    DocumentPurged,
    DocumentUnavailable,
    StorageUnavailable,
    fax_document_download,
)

PAGE_SIZE = 50


def _account(request: HttpRequest) -> Account:
    return account_of_member(request.user)


def _livemode(request: HttpRequest) -> bool:
    """Which world the page shows: live faxes, or test faxes with `?mode=test`."""
    return request.GET.get("mode") != "test"


@login_required
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


@login_required
@require_GET
def fax_detail(request: HttpRequest, fax_id: str) -> HttpResponse:
    account = _account(request)
    fax = fax_of_member_account(account=account, fax_id=fax_id)
    if fax is None:
        raise Http404("No such fax.")
    context = {
        "fax": fax,
        "can_download": _may_download(request),
        "events": fax_history(fax=fax),
        "deliveries": webhook_deliveries_for_object(account_id=account.pk, object_id=fax.pk),
    }
    return render(request, "faxes/detail.html", context)


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


@login_required
@require_GET
def fax_document(request: HttpRequest, fax_id: str) -> HttpResponse:
    """The fax's PDF for the account's owner; the download is recorded in the audit log. A GET
    with no other effect, so it needs no CSRF token."""
    fax = fax_of_member_account(account=account_for_documents(request), fax_id=fax_id)
    if fax is None:
        raise Http404("No such fax.")
    try:
        download = fax_document_download(
            fax=fax, actor=actor_from_request(request), via="dashboard"
        )
    except DocumentUnavailable as error:
        return document_unavailable_response(request, fax, error)
    return document_response(download)
