"""/dashboard/faxes: the account's faxes and each one's history; /dashboard/inbox: the faxes
received on its numbers, with their pages rendered on the server. Read-only, on every plan."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import Account
from accounts.selectors import account_of_member
from audit.services import actor_from_request
from developers.selectors import webhook_deliveries_for_object
from faxes.documents import DocumentError
from faxes.models import Direction, Fax, FaxStatus
from faxes.selectors import (
    fax_emails,
    fax_history,
    fax_of_member_account,
    faxes_newest_first,
    faxes_received_newest_first,
)
from faxes.services.inbound import fax_mark_read, fax_page_view

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


@login_required
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
    return range(1, (fax.page_count or 0) + 1)


@login_required
@require_GET
@never_cache
def fax_detail(request: HttpRequest, fax_id: str) -> HttpResponse:
    fax = _fax(request, fax_id)
    if fax.direction == Direction.INBOUND and fax.status == FaxStatus.RECEIVED:
        fax_mark_read(fax=fax)
    context = {
        "fax": fax,
        "events": fax_history(fax=fax),
        "deliveries": webhook_deliveries_for_object(account_id=fax.account_id, object_id=fax.pk),
        "emails": fax_emails(fax=fax),
        "pages": _pages_shown(fax),
    }
    return render(request, "faxes/detail.html", context)


@login_required
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
