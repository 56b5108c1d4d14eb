"""Bearer-key authentication for every /v1 route."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.models import Account
from audit.models import ActorType
from audit.services import Actor, actor_with_request
from developers.models import ApiKey
from developers.selectors import api_key_for_secret, api_key_label
from developers.services.api_keys import api_key_touch
from sendfaxmail.lib.errors import AuthenticationRequired, InvalidApiKey


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer sfm_live_…`. `request.user` is the account, `request.auth` the key.

    A missing or non-Bearer header is `authentication_required`; a malformed, unknown, revoked or
    deleted key is one and the same `invalid_api_key`, so an answer never says which.
    """

    def authenticate(self, request: Request) -> tuple[Account, ApiKey]:
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationRequired()
        api_key = api_key_for_secret(token)
        if api_key is None:
            raise InvalidApiKey()
        api_key_touch(api_key=api_key)
        return api_key.account, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def api_key_actor(request: Request) -> Actor:
    """Who the audit log says made an authenticated /v1 request: its key (named by its name and
    display prefix, never the secret), with the client's address and user agent."""
    api_key: ApiKey = request.auth
    # The authenticated key carries only what authorising needs: its name is read here.
    label = api_key_label(api_key_id=api_key.pk)
    actor = Actor(type=ActorType.API_KEY, id=str(api_key.pk), label=label)
    return actor_with_request(actor, request)
