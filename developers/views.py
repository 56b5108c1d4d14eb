"""/dashboard/developers: API keys and webhook endpoints, for owners, admins and developers.

Creating and changing things that use the API needs a plan with API access (the server refuses
it with 403, not only the page hiding it); revoking, disabling and deleting stay open on every
plan so that a downgraded account can clean up.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Account
from accounts.permissions import Action, member_required
from accounts.selectors import account_of_member
from audit.services import actor_from_request
from developers.forms import ApiKeyForm, RequestLogFilterForm, WebhookEndpointForm
from developers.models import ApiKey, WebhookDelivery, WebhookEndpoint
from developers.selectors import (
    request_log_entry,
    request_log_page,
    webhook_deliveries_recent,
    webhook_ping_of,
)
from developers.services.api_keys import api_key_create, api_key_delete, api_key_revoke
from developers.services.request_log import request_log_flush
from developers.services.webhook_deliveries import (
    PingLimitReached,
    webhook_delivery_resend,
    webhook_endpoint_ping,
)
from developers.services.webhook_endpoints import (
    ENDPOINTS_PER_ACCOUNT,
    EndpointLimitReached,
    WebhookError,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_reveal_secret,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_set_enabled,
    webhook_endpoint_update,
)

View = Callable[..., HttpResponse]


def _account(request: HttpRequest) -> Account:
    return account_of_member(request)


def api_plan_required(view: View) -> View:
    """Refuse (403) what only Business and Enterprise may do, whatever the page showed."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = _account(request)
        if not account.has_api_access:
            return render(
                request, "developers/upgrade_required.html", {"account": account}, status=403
            )
        return view(request, *args, **kwargs)

    return wrapper


def _page(
    request: HttpRequest, *, form: ApiKeyForm | None = None, status: int = 200, **extra: object
) -> HttpResponse:
    account = _account(request)
    context = {
        "account": account,
        "form": form or ApiKeyForm(),
        "api_keys": account.api_keys.visible().select_related("created_by").order_by("-created_at"),
        "endpoints": account.webhook_endpoints.order_by("created_at"),
        "endpoints_per_account": ENDPOINTS_PER_ACCOUNT,
        **extra,
    }
    return render(request, "developers/index.html", context, status=status)


@member_required(Action.MANAGE_KEYS)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return _page(request)


@member_required(Action.MANAGE_KEYS)
@require_POST
@never_cache
@api_plan_required
def key_create(request: HttpRequest) -> HttpResponse:
    """Create a key and show its secret in this response only; it is never shown again."""
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    api_key, secret = api_key_create(
        account=_account(request),
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
        created_by=request.user,
        livemode=form.cleaned_data["mode"] != "test",
        actor=actor_from_request(request),
    )
    return _page(request, new_key=api_key, new_secret=secret, status=201)


def _own_key(request: HttpRequest, key_id: str) -> ApiKey:
    return get_object_or_404(ApiKey.objects.visible(), pk=key_id, account=_account(request))


@member_required(Action.MANAGE_KEYS)
@require_POST
def key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    api_key_revoke(api_key=_own_key(request, key_id), actor=actor_from_request(request))
    return redirect("developers:index")


@member_required(Action.MANAGE_KEYS)
@require_POST
def key_delete(request: HttpRequest, key_id: str) -> HttpResponse:
    api_key_delete(api_key=_own_key(request, key_id), actor=actor_from_request(request))
    return redirect("developers:index")


# --- Webhook endpoints ---------------------------------------------------------------------


def _own_endpoint(request: HttpRequest, endpoint_id: str) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=endpoint_id, account=_account(request))


def _endpoint_page(
    request: HttpRequest, endpoint: WebhookEndpoint, *, status: int = 200, **extra: object
) -> HttpResponse:
    form = extra.pop("form", None) or WebhookEndpointForm(
        initial={
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
        }
    )
    context = {
        "account": endpoint.account,
        "endpoint": endpoint,
        "form": form,
        "deliveries": webhook_deliveries_recent(endpoint=endpoint),
        **extra,
    }
    response = render(request, "developers/webhook_endpoint.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@member_required(Action.MANAGE_WEBHOOKS)
@require_http_methods(["GET", "POST"])
@api_plan_required
def webhook_new(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None, initial={"event_types": []})
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhook_endpoint_create(
                account=_account(request), actor=actor_from_request(request), **form.cleaned_data
            )
        except EndpointLimitReached as error:
            form.add_error(None, str(error))
        except WebhookError as error:
            form.add_error("url", str(error))
        else:
            return _endpoint_page(request, endpoint, status=201, show_secret=True, created=True)
    status = 400 if form.errors else 200
    return render(request, "developers/webhook_new.html", {"form": form}, status=status)


@member_required(Action.MANAGE_WEBHOOKS)
@require_GET
def webhook_detail(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _endpoint_page(request, _own_endpoint(request, endpoint_id))


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
def webhook_secret(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """Show the signing secret to a member who asks for it (never on a plain page load)."""
    endpoint = _own_endpoint(request, endpoint_id)
    webhook_endpoint_reveal_secret(endpoint=endpoint, actor=actor_from_request(request))
    return _endpoint_page(request, endpoint, show_secret=True)


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
@api_plan_required
def webhook_edit(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = _own_endpoint(request, endpoint_id)
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            webhook_endpoint_update(
                endpoint=endpoint, actor=actor_from_request(request), **form.cleaned_data
            )
        except WebhookError as error:
            form.add_error("url", str(error))
        else:
            return redirect("developers:webhook_detail", endpoint_id=endpoint.pk)
    return _endpoint_page(request, endpoint, form=form, status=400)


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
def webhook_disable(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    webhook_endpoint_set_enabled(
        endpoint=_own_endpoint(request, endpoint_id),
        enabled=False,
        actor=actor_from_request(request),
    )
    return redirect("developers:webhook_detail", endpoint_id=endpoint_id)


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
@api_plan_required
def webhook_enable(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    webhook_endpoint_set_enabled(
        endpoint=_own_endpoint(request, endpoint_id),
        enabled=True,
        actor=actor_from_request(request),
    )
    return redirect("developers:webhook_detail", endpoint_id=endpoint_id)


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
def webhook_delete(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    webhook_endpoint_delete(
        endpoint=_own_endpoint(request, endpoint_id), actor=actor_from_request(request)
    )
    return redirect("developers:index")


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
@api_plan_required
def webhook_rotate(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = _own_endpoint(request, endpoint_id)
    webhook_endpoint_rotate_secret(endpoint=endpoint, actor=actor_from_request(request))
    return _endpoint_page(request, endpoint, show_secret=True, rotated=True)


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
@api_plan_required
def webhook_test(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """Queue a signed `ping` and send the member to the page that shows its result; the
    request never waits for the customer's server."""
    endpoint = _own_endpoint(request, endpoint_id)
    try:
        ping = webhook_endpoint_ping(endpoint=endpoint)
    except PingLimitReached as error:
        response = _endpoint_page(request, endpoint, status=429, ping_refused=str(error))
        response["Retry-After"] = str(error.retry_in)
        return response
    return redirect("developers:webhook_ping", endpoint_id=endpoint.pk, delivery_id=ping.pk)


def _own_ping(request: HttpRequest, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
    ping = webhook_ping_of(endpoint=_own_endpoint(request, endpoint_id), delivery_id=delivery_id)
    if ping is None:
        raise Http404
    return ping


@member_required(Action.MANAGE_WEBHOOKS)
@require_GET
def webhook_ping(request: HttpRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    """The endpoint page with a test event's result, or "sending" while it is pending."""
    ping = _own_ping(request, endpoint_id, delivery_id)
    return _endpoint_page(request, ping.endpoint, ping=ping)


@member_required(Action.MANAGE_WEBHOOKS)
@require_GET
def webhook_ping_result(request: HttpRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    """Just the test event's result box, which the endpoint page polls while it is pending."""
    ping = _own_ping(request, endpoint_id, delivery_id)
    response = render(
        request, "developers/_ping_result.html", {"endpoint": ping.endpoint, "ping": ping}
    )
    response["Cache-Control"] = "no-store"
    return response


@member_required(Action.MANAGE_WEBHOOKS)
@require_POST
@api_plan_required
def webhook_resend(request: HttpRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    endpoint = _own_endpoint(request, endpoint_id)
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id, endpoint=endpoint)
    webhook_delivery_resend(delivery=delivery)
    return redirect("developers:webhook_detail", endpoint_id=endpoint.pk)


# --- The request log -----------------------------------------------------------------------


# Both pages list the account's API traffic: never cached, for the roles that may see it.
@member_required(Action.VIEW_API_LOGS)
@require_GET
@never_cache
def request_log(request: HttpRequest) -> HttpResponse:
    """Developers → Logs: the account's /v1 requests of the last 30 days, newest first."""
    account = _account(request)
    request_log_flush()  # so that a request made a moment ago is listed already
    api_keys = list(ApiKey.objects.filter(account=account).order_by("name", "created_at"))
    form = RequestLogFilterForm(request.GET, api_keys=api_keys)
    page = request_log_page(
        account=account,
        filters=form.filters(),
        older_than=request.GET.get("older_than"),
        newer_than=request.GET.get("newer_than"),
    )
    query = request.GET.copy()
    for name in ("older_than", "newer_than"):
        query.pop(name, None)
    context = {"form": form, "page": page, "query": query.urlencode(), "filtered": bool(query)}
    return render(request, "developers/logs.html", context)


@member_required(Action.VIEW_API_LOGS)
@require_GET
@never_cache
def request_log_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    request_log_flush()
    entry = request_log_entry(account=_account(request), request_id=request_id)
    if entry is None:
        raise Http404("No request with this id in your account's log.")
    return render(request, "developers/logs_detail.html", {"entry": entry})
