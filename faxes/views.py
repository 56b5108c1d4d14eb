"""/dashboard/faxes: the account's faxes and each one's history. Read-only, on every plan."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import Account
from accounts.selectors import account_of_member
from developers.selectors import webhook_deliveries_for_object
from faxes.selectors import fax_history, fax_of_member_account, faxes_newest_first

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
def fax_detail(request: HttpRequest, fax_id: str) -> HttpResponse:
    account = _account(request)
    fax = fax_of_member_account(account=account, fax_id=fax_id)
    if fax is None:
        raise Http404("No such fax.")
    context = {
        "fax": fax,
        "events": fax_history(fax=fax),
        "deliveries": webhook_deliveries_for_object(account_id=account.pk, object_id=fax.pk),
    }
    return render(request, "faxes/detail.html", context)
