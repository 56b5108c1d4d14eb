"""/dashboard/faxes: the account's faxes and each one's history, on every plan; the account's
owner may cancel a fax."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Account
from accounts.selectors import account_of_member
from audit.services import actor_for_user
from developers.selectors import webhook_deliveries_for_object
from faxes.selectors import fax_history, fax_of_member_account, faxes_newest_first
from faxes.services.cancel import (
    CancelCarrierUnavailable,
    CancelOutcome,
    FaxNotCancelable,
    fax_cancel,
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


@login_required
@require_GET
def fax_detail(request: HttpRequest, fax_id: str) -> HttpResponse:
    account = _account(request)
    fax = fax_of_member_account(account=account, fax_id=fax_id)
    if fax is None:
        raise Http404("No such fax.")
    context = {
        "fax": fax,
        "can_cancel": not fax.is_terminal and request.user.pk == account.owner_id,
        "events": fax_history(fax=fax),
        "deliveries": webhook_deliveries_for_object(account_id=account.pk, object_id=fax.pk),
    }
    return render(request, "faxes/detail.html", context)


@login_required
@require_POST
def fax_cancel_view(request: HttpRequest, fax_id: str) -> HttpResponse:
    """The Cancel button of a fax's page: for the account's owner only, for now."""
    account = _account(request)
    if request.user.pk != account.owner_id:
        raise PermissionDenied("Only the account's owner can cancel a fax.")
    fax = fax_of_member_account(account=account, fax_id=fax_id)
    if fax is None:
        raise Http404("No such fax.")
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
