"""/dashboard/numbers: the account's fax numbers and their fax-to-email settings. Every member
sees them; owners and admins change them."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Action, member_required
from accounts.selectors import account_of_member
from fax_numbers.forms import NumberEmailForm
from fax_numbers.selectors import fax_numbers_of_account
from fax_numbers.services import NumberError, fax_number_email_set


@member_required(Action.VIEW_DASHBOARD)
@require_GET
def number_list(request: HttpRequest) -> HttpResponse:
    account = account_of_member(request)
    numbers = [
        (
            number,
            NumberEmailForm(
                initial={
                    "recipients": ", ".join(number.email_recipients),
                    "attach_pdf": number.email_attach_pdf,
                }
            ),
        )
        for number in fax_numbers_of_account(account=account)
    ]
    return render(request, "fax_numbers/list.html", {"numbers": numbers})


@member_required(Action.MANAGE_NUMBERS)
@require_POST
def number_email(request: HttpRequest, number_id: str) -> HttpResponse:
    account = account_of_member(request)
    number = fax_numbers_of_account(account=account).filter(pk=number_id).first()
    if number is None:
        raise Http404("No such number.")
    form = NumberEmailForm(request.POST)
    if form.is_valid():
        try:
            fax_number_email_set(
                fax_number=number,
                recipients=form.recipient_list(),
                attach_pdf=form.cleaned_data["attach_pdf"],
            )
        except NumberError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Saved the email settings of {number.number}.")
    return redirect("numbers:dashboard_numbers")
