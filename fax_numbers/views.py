"""/dashboard/numbers: the account's fax numbers and their fax-to-email settings. Every member
sees them; the account owner changes them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import account_of_member
from fax_numbers.forms import NumberEmailForm
from fax_numbers.selectors import fax_numbers_of_account
from fax_numbers.services import NumberError, fax_number_email_set


@login_required
@require_GET
def number_list(request: HttpRequest) -> HttpResponse:
    account = account_of_member(request.user)
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
    is_owner = account.owner_id == request.user.pk
    return render(request, "fax_numbers/list.html", {"numbers": numbers, "is_owner": is_owner})


@login_required
@require_POST
def number_email(request: HttpRequest, number_id: str) -> HttpResponse:
    account = account_of_member(request.user)
    number = fax_numbers_of_account(account=account).filter(pk=number_id).first()
    if number is None:
        raise Http404("No such number.")
    if account.owner_id != request.user.pk:
        return HttpResponseForbidden("Only the account owner changes where faxes are emailed.")
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
