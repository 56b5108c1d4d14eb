"""Sign-up, the password reset's request, and the dashboard home. Log in, log out and the rest of
the password reset are Django's own views."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.forms import (
    COMMON_TIME_ZONES,
    AccountProfileForm,
    DocumentRetentionForm,
    SignUpForm,
    SignUpPasswordForm,
)
from accounts.models import Plan
from accounts.permissions import Action, member_required
from accounts.selectors import account_for_settings
from accounts.services import (
    AccountError,
    AccountFieldError,
    EmailLimited,
    account_email_budget_spend,
    account_set_document_retention,
    account_set_profile,
    account_sign_up,
    account_sign_up_request,
    sign_up_request_read,
)
from audit.services import actor_from_request
from sendfaxmail.lib.client_ip import client_ip


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form (`username` holds the email); emails match case-insensitively."""

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Step one: an email address. Every valid one gets the same "check your email" answer."""
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            email = form.cleaned_data["email"]
            try:
                account_sign_up_request(
                    email=email,
                    name=form.cleaned_data["name"],
                    site_url=f"{request.scheme}://{request.get_host()}",
                    client_ip=client_ip(request),
                )
            except EmailLimited as error:
                form.add_error("email", str(error))
                return _email_limited(
                    render(request, "registration/signup.html", {"form": form}), error
                )
            except AccountError as error:
                form.add_error("email", str(error))
            else:
                return render(request, "registration/sign_up_sent.html", {"email": email})
        return render(request, "registration/signup.html", {"form": form}, status=400)
    return render(request, "registration/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Step two, from the mailed link: choose a password; the account and its trial start."""
    try:
        sign_up = sign_up_request_read(token=token)
    except AccountError as error:
        return _sign_up_link_refused(request, error)
    form = SignUpPasswordForm(request.POST or None, email=sign_up.email, name=sign_up.name)
    if request.method == "POST":
        if form.is_valid():
            try:
                account = account_sign_up(
                    email=sign_up.email, password=form.cleaned_data["password"], name=sign_up.name
                )
            except AccountError as error:  # the link was used in another tab meanwhile
                return _sign_up_link_refused(request, error)
            login(request, account.owner, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("dashboard:home")
        status = 400
    else:
        status = 200
    return render(
        request,
        "registration/sign_up_confirm.html",
        {"form": form, "email": sign_up.email},
        status=status,
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, within the public pages' email budget
    (`account_email_budget_spend`): past it, the form answers 429 and nothing is mailed."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        try:
            account_email_budget_spend(
                email=form.cleaned_data["email"], client_ip=client_ip(self.request)
            )
        except EmailLimited as error:
            form.add_error("email", str(error))
            return _email_limited(self.form_invalid(form), error)
        except AccountError as error:
            form.add_error("email", str(error))
            return self.form_invalid(form)
        return super().form_valid(form)


def _email_limited(response: HttpResponse, error: EmailLimited) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(error.retry_after)
    return response


def _sign_up_link_refused(request: HttpRequest, error: AccountError) -> HttpResponse:
    return render(
        request, "registration/sign_up_link_refused.html", {"message": str(error)}, status=400
    )


@member_required(Action.VIEW_DASHBOARD, no_account_ok=True)
def home(request: HttpRequest) -> HttpResponse:
    # The account's fax numbers are added by the template (fax_numbers' template tag): this app
    # does not reach up into the apps above it.
    return render(
        request,
        "dashboard/home.html",
        {
            "account": request.membership.account if request.membership else None,
            "plans": Plan.objects.all(),
        },
    )


@member_required(Action.MANAGE_SECURITY)
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    """The owner's account settings: the account's name and time zone, and how long documents
    are kept. Two forms, told apart by their `form` field; changes are audited."""
    account = account_for_settings(request)
    posted = request.POST if request.method == "POST" else None
    which = request.POST.get("form", "retention") if posted is not None else None
    profile = AccountProfileForm(
        posted if which == "profile" else None,
        initial={"name": account.name, "time_zone": account.time_zone},
    )
    retention = DocumentRetentionForm(
        posted if which == "retention" else None,
        initial={"document_retention_days": account.document_retention_days},
    )
    if which == "profile" and profile.is_valid():
        try:
            account_set_profile(
                account=account,
                name=profile.cleaned_data["name"],
                time_zone=profile.cleaned_data["time_zone"],
                actor=actor_from_request(request),
            )
        except AccountFieldError as error:
            profile.add_error(error.field, str(error))
        else:
            return redirect(f"{reverse('dashboard:settings')}?saved=profile")
    if which == "retention" and retention.is_valid():
        try:
            account_set_document_retention(
                account=account,
                days=retention.cleaned_data["document_retention_days"],
                actor=actor_from_request(request),
            )
        except AccountError as error:
            retention.add_error("document_retention_days", str(error))
        else:
            return redirect(f"{reverse('dashboard:settings')}?saved=1")
    status = 400 if profile.errors or retention.errors else 200
    context = {
        "account": account,
        "form": retention,
        "profile": profile,
        "time_zones": COMMON_TIME_ZONES,
        "saved": request.GET.get("saved"),
    }
    return render(request, "dashboard/settings.html", context, status=status)
