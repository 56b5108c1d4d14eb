from __future__ import annotations

from developers import keys
from developers.models import ApiKey

# Only what authentication, the plan gate, the scope check and the throttle read.
AUTH_FIELDS = (
    "id",
    "scopes",
    "livemode",
    "last_used_at",
    "account__id",
    "account__name",
    "account__trial_ends_at",
    "account__plan__slug",
    "account__plan__api_access",
)


def api_key_for_secret(raw: str) -> ApiKey | None:
    """The usable key whose secret is `raw`, with its account and plan, in one query.

    A malformed key (wrong shape or checksum) is refused without a query. The lookup is an exact
    match on the indexed digest, so its timing tells nothing about the secret.
    """
    if not keys.is_well_formed(raw):
        return None
    try:
        return (
            ApiKey.objects.usable()
            .select_related("account__plan")
            .only(*AUTH_FIELDS)
            .get(digest=keys.digest(raw))
        )
    except ApiKey.DoesNotExist:
        return None
