"""Logging in with a second factor, and the pages where a user sets it up or turns it off.

Login is two steps for a user with an authenticator app. The password step is Django's
LoginView (so django-axes counts its failures, on /accounts/login/ and /admin/login/ alike);
when the password is right it does not log in but remembers the user in the session for five
minutes and asks for a code (`login_code`). Only a right code, or an unused recovery code,
logs the session in, marked verified by django-otp. Wrong codes are throttled per device.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from accounts.current import account_id_for_audit
from accounts.forms import CodeForm, ReauthenticateForm
from accounts.models import User
from accounts.two_factor import (
    RECOVERY_CODE_COUNT,
    TwoFactorError,
    qr_code_svg,
    recovery_codes_create,
    recovery_codes_left,
    totp_device_pending,
    totp_secret_text,
    two_factor_disable,
    two_factor_enabled,
    two_factor_enrol,
    two_factor_verify,
)
from accounts.views import EmailAuthenticationForm
from audit.models import Action as AuditAction
from audit.services import actor_for_user, actor_from_request, audit_record

PENDING_KEY = "two_factor_pending"
PENDING_SECONDS = 300


class LoginView(auth_views.LoginView):
    """The password step. A user with two-factor login goes on to the code step instead of
    being logged in."""

    authentication_form = EmailAuthenticationForm

    def form_valid(self, form: EmailAuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not two_factor_enabled(user=user):
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[PENDING_KEY] = {
            "user_id": user.pk,
            "backend": user.backend,
            "at": time.time(),
            "next": self.get_success_url(),
        }
        return redirect("login_code")


def _pending_user(request: HttpRequest) -> tuple[User | None, dict]:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None, {}
    return User.objects.filter(pk=pending["user_id"], is_active=True).first(), pending


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The code step: after the password, or for a logged-in session that began before the
    user set up two-factor login elsewhere."""
    if request.user.is_authenticated:
        if request.user.is_verified() or not two_factor_enabled(user=request.user):
            return redirect("dashboard:home")
        user, pending = request.user, {}
    else:
        user, pending = _pending_user(request)
        if user is None:
            messages.info(request, "Log in again: the code step lasts five minutes.")
            return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            verification = two_factor_verify(
                user=user, code=form.cleaned_data["code"], actor=actor_for_user(user, request)
            )
        except TwoFactorError as error:
            form.add_error("code", str(error))
            audit_record(
                action=AuditAction.LOGIN_FAILED,
                account_id=account_id_for_audit(user),
                actor=actor_for_user(user, request),
                details={"step": "two_factor"},
            )
        else:
            if pending:
                request.session.pop(PENDING_KEY, None)
                login(request, user, backend=pending["backend"])
            otp_login(request, verification.device)
            if verification.recovery_code_used:
                messages.warning(
                    request,
                    f"You used a recovery code; {verification.recovery_codes_left} left. "
                    "Make new ones on the two-factor page if you are running out.",
                )
            return HttpResponseRedirect(_next_url(request, pending))
    status = 400 if form.errors else 200
    return render(request, "registration/login_code.html", {"form": form}, status=status)


def _next_url(request: HttpRequest, pending: dict) -> str:
    url = pending.get("next") or request.GET.get("next") or reverse("dashboard:home")
    if not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return reverse("dashboard:home")
    return url


@never_cache
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """The user's two-factor page: on or off, recovery codes left, turn off."""
    enabled = two_factor_enabled(user=request.user)
    context = {
        "enabled": enabled,
        "codes_left": recovery_codes_left(user=request.user) if enabled else 0,
        "form": ReauthenticateForm(),
        "code_form": CodeForm(),
    }
    return render(request, "registration/two_factor.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Scan the QR code (or type the secret), confirm with a code, get the recovery codes."""
    if two_factor_enabled(user=request.user):
        return redirect("two_factor")
    device = totp_device_pending(user=request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor_enrol(
                device=device, code=form.cleaned_data["code"], actor=actor_from_request(request)
            )
        except TwoFactorError as error:
            form.add_error("code", str(error))
        else:
            device.refresh_from_db()
            otp_login(request, device)
            return _recovery_codes_page(request, codes, enrolled=True)
    context = {
        "form": form,
        "qr_svg": mark_safe(qr_code_svg(device.config_url)),  # noqa: S308 (our own SVG)
        "secret": totp_secret_text(device),
    }
    status = 400 if form.errors else 200
    return render(request, "registration/two_factor_setup.html", context, status=status)


def _recovery_codes_page(request: HttpRequest, codes: list[str], *, enrolled: bool) -> HttpResponse:
    response = render(
        request,
        "registration/recovery_codes.html",
        {"codes": codes, "count": RECOVERY_CODE_COUNT, "enrolled": enrolled},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    """Ten new recovery codes, for a code from the app; the old ones stop working."""
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            two_factor_verify(
                user=request.user,
                code=form.cleaned_data["code"],
                actor=actor_from_request(request),
                recovery_ok=False,
            )
        except TwoFactorError as error:
            messages.error(request, str(error))
        else:
            return _recovery_codes_page(
                request, recovery_codes_create(user=request.user), enrolled=False
            )
    return redirect("two_factor")


@never_cache
@login_required
@require_POST
def two_factor_off(request: HttpRequest) -> HttpResponse:
    """Turn two-factor login off: the password and a code again, so a session left open on
    someone's desk cannot do it."""
    form = ReauthenticateForm(request.POST)
    if form.is_valid():
        user = authenticate(
            request, username=request.user.email, password=form.cleaned_data["password"]
        )
        if user is None or user.pk != request.user.pk:
            form.add_error("password", "That password is not right.")
        else:
            try:
                two_factor_verify(
                    user=request.user,
                    code=form.cleaned_data["code"],
                    actor=actor_from_request(request),
                )
            except TwoFactorError as error:
                form.add_error("code", str(error))
            else:
                two_factor_disable(user=request.user, actor=actor_from_request(request))
                messages.success(request, "Two-factor login is off.")
                return redirect("two_factor")
    context = {"enabled": True, "codes_left": recovery_codes_left(user=request.user), "form": form}
    context["code_form"] = CodeForm()
    return render(request, "registration/two_factor.html", context, status=400)
