from __future__ import annotations

from developers import keys
from developers.models import ApiKey


def api_key_for_secret(raw: str) -> ApiKey | None:
    """The usable key whose secret is `raw`, with its account and plan, in one query.

    A malformed key (wrong shape or checksum) is refused without a query. The lookup is an exact
    match on the indexed digest, so its timing tells nothing about the secret.
    """
    if not keys.is_well_formed(raw):
        return None
    return (
        ApiKey.objects.usable()
        .select_related("account__plan")
        .filter(digest=keys.digest(raw))
        .first()
    )
