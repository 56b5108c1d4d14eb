"""Sign-up and the dashboard home. Log in, log out and password reset are Django's own views."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import SignUpForm
from accounts.models import Plan
from accounts.services import account_sign_up


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form (`username` holds the email); emails match case-insensitively."""

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = account_sign_up(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            name=form.cleaned_data["name"],
        )
        login(request, account.owner, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("dashboard:home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    account = request.user.account
    numbers = account.fax_numbers.order_by("created_at") if account else []
    return render(
        request,
        "dashboard/home.html",
        {"account": account, "numbers": numbers, "plans": Plan.objects.all()},
    )
