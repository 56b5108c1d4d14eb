"""/dashboard/developers: API keys for account members."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Account
from developers.forms import ApiKeyForm
from developers.models import ApiKey
from developers.services import api_key_create, api_key_delete, api_key_revoke


def _account(request: HttpRequest) -> Account:
    account = request.user.account
    if account is None:
        raise Http404("Your user belongs to no account.")
    return account


def _page(
    request: HttpRequest, *, form: ApiKeyForm | None = None, status: int = 200, **extra: object
) -> HttpResponse:
    account = _account(request)
    context = {
        "account": account,
        "form": form or ApiKeyForm(),
        "api_keys": account.api_keys.visible().select_related("created_by").order_by("-created_at"),
        **extra,
    }
    return render(request, "developers/index.html", context, status=status)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
@never_cache
def key_create(request: HttpRequest) -> HttpResponse:
    """Create a key and show its secret in this response only; it is never shown again."""
    account = _account(request)
    if not account.has_api_access:
        return render(request, "developers/upgrade_required.html", {"account": account}, status=403)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    api_key, secret = api_key_create(
        account=account,
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
        created_by=request.user,
    )
    return _page(request, new_key=api_key, new_secret=secret, status=201)


def _own_key(request: HttpRequest, key_id: str) -> ApiKey:
    return get_object_or_404(ApiKey.objects.visible(), pk=key_id, account=_account(request))


@login_required
@require_POST
def key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    """Open on every plan, so a downgraded account can still clean up."""
    api_key_revoke(api_key=_own_key(request, key_id))
    return redirect("developers:index")


@login_required
@require_POST
def key_delete(request: HttpRequest, key_id: str) -> HttpResponse:
    """Open on every plan, so a downgraded account can still clean up."""
    api_key_delete(api_key=_own_key(request, key_id))
    return redirect("developers:index")
