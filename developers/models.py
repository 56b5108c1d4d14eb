from __future__ import annotations

from django.db import models

from sendfaxmail.lib import events
from sendfaxmail.lib.ids import delivery_id, event_id, key_id, webhook_endpoint_id


class Scope(models.TextChoices):
    FAXES_SEND = "faxes:send", "Send faxes (faxes:send)"
    FAXES_READ = "faxes:read", "Read faxes (faxes:read)"
    NUMBERS_READ = "numbers:read", "Read numbers (numbers:read)"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def visible(self) -> ApiKeyQuerySet:
        """Keys the account can see: all but the deleted ones."""
        return self.filter(deleted_at__isnull=True)


class ApiKey(models.Model):
    """A bearer key for /v1. Only its keyed digest is stored; the secret is shown once."""

    id = models.CharField(primary_key=True, max_length=32, default=key_id, editable=False)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    scopes = models.JSONField(default=list)
    livemode = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Deleted keys are kept (faxes point at the key that sent them) but vanish from every list.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def masked(self) -> str:
        return f"{self.prefix}…"

    @property
    def state(self) -> str:
        if self.deleted_at:
            return "deleted"
        return "revoked" if self.revoked_at else "active"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class WebhookEventType(models.TextChoices):
    FAX_SENDING = events.FAX_SENDING, f"{events.FAX_SENDING} — the carrier started dialing"
    FAX_DELIVERED = events.FAX_DELIVERED, f"{events.FAX_DELIVERED} — every page went through"
    FAX_FAILED = events.FAX_FAILED, f"{events.FAX_FAILED} — the fax could not be delivered"
    FAX_CANCELED = events.FAX_CANCELED, f"{events.FAX_CANCELED} — the fax was canceled"
    FAX_RETRY_SCHEDULED = (
        events.FAX_RETRY_SCHEDULED,
        f"{events.FAX_RETRY_SCHEDULED} — a call failed; the fax will be redialed",
    )
    FAX_RECEIVED = (
        events.FAX_RECEIVED,
        f"{events.FAX_RECEIVED} — a fax arrived on one of your numbers",
    )


# The test event a member sends from the endpoint page; no endpoint subscribes to it.
PING = "ping"


class WebhookEndpoint(models.Model):
    """A customer's HTTPS URL that receives signed events."""

    id = models.CharField(
        primary_key=True, max_length=32, default=webhook_endpoint_id, editable=False
    )
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    # The signing secret is needed in clear to sign, and is shown to members on demand.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # Since when every delivery has failed; None while the endpoint answers.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


class WebhookEvent(models.Model):
    """The outbox: an event is written in the transaction of the change it reports."""

    id = models.CharField(primary_key=True, max_length=32, default=event_id, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=True)
    type = models.CharField(max_length=32)
    # The id of the object the event is about (a fax id), for the dashboard's history.
    object_id = models.CharField(max_length=32, blank=True, db_index=True)
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event to one endpoint, with its attempts. `next_attempt_at` is when it is due (first
    try or retry); `leased_until` is set while an attempt is in flight, and a lease that ran out
    (its worker died) no longer counts, so another worker takes the delivery over."""

    id = models.CharField(primary_key=True, max_length=32, default=delivery_id, editable=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    # No index of the foreign key's own: the (endpoint, -created_at) index below serves it.
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_response_body = models.TextField(blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-created_at"]),
            # The few deliveries in flight, counted per endpoint and account at every claim.
            models.Index(
                fields=["endpoint"],
                name="delivery_leased",
                condition=models.Q(leased_until__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.id


class RequestLogEntry(models.Model):
    """One /v1 request of an account, for the dashboard's Developers → Logs page (30 days).

    What was asked and answered, never what was sent: the path (ids are not PHI) but no query
    values and no body, and the key by reference (its name is read at display), never a secret.
    """

    # No index of its own: `request_log_newest` starts with it.
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    livemode = models.BooleanField(default=True)
    # When the request came in.
    created_at = models.DateTimeField()
    request_id = models.CharField(max_length=64)
    method = models.CharField(max_length=16)
    path = models.CharField(max_length=512)
    status = models.PositiveSmallIntegerField()
    # The envelope's `code` when the answer was an error.
    error_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.FloatField()
    idempotency_key = models.CharField(max_length=255, blank=True)
    replayed = models.BooleanField(default=False)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # The id of what the request created (a send's fax), read from its `Location`.
    object_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            # The Logs page: an account's entries, newest first, paged by (created_at, id).
            models.Index(fields=["account", "-created_at", "-id"], name="request_log_newest"),
            models.Index(fields=["request_id"], name="request_log_request_id"),
            # The purge: entries past their retention, in batches.
            models.Index(fields=["created_at"], name="request_log_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.method} {self.path} {self.status}"

    @property
    def status_class(self) -> str:
        return f"{self.status // 100}xx"

    @property
    def sent_fax_id(self) -> str | None:
        """The fax a successful send (`POST /v1/faxes`, 201) created or replayed, else None."""
        is_send = self.method == "POST" and self.path.rstrip("/") == "/v1/faxes"
        if is_send and self.status == 201 and self.object_id.startswith("fax_"):
            return self.object_id
        return None
