from __future__ import annotations

from django.db import models
from django.db.models import Q

from sendfaxmail.lib.fetch import without_query
from sendfaxmail.lib.ids import fax_id


class FaxStatus(models.TextChoices):
    """Where a fax is. The order of the first five is the only direction a fax moves in."""

    # Waiting for its `send_at`; a URL document is fetched meanwhile.
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    # Internal: a worker has claimed the fax and is handing it to the carrier. Shown as queued.
    SUBMITTING = "submitting", "Submitting"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    # Inbound: the carrier is receiving the fax, or we are fetching its pages from the carrier.
    RECEIVING = "receiving", "Receiving"
    RECEIVED = "received", "Received"


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


TERMINAL_STATUSES = (FaxStatus.DELIVERED, FaxStatus.FAILED, FaxStatus.CANCELED, FaxStatus.RECEIVED)
PUBLIC_STATUS = {FaxStatus.SUBMITTING: FaxStatus.QUEUED}


class DocumentSource(models.TextChoices):
    INLINE = "inline", "Inline base64"
    URL = "url", "Fetched from a URL"
    # A received fax: `document_url` is the carrier's short-lived media link, never shown.
    CARRIER = "carrier", "Received from the carrier"
    # A resend: the stored document of the fax it resends (`resent_from`), copied by the worker.
    COPY = "copy", "Copied from the fax it resends"


class Fax(models.Model):
    """One fax to one number, sent (outbound) or received (inbound). The document itself lives
    in private storage, never at a URL."""

    id = models.CharField(primary_key=True, max_length=32, default=fax_id, editable=False)
    # Every index is written on every send: the foreign keys' own indexes are left out where a
    # listed index serves their queries already, and declared in Meta otherwise, where Django
    # adds no second `varchar_pattern_ops` copy (which only LIKE queries would use).
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="faxes", db_index=False
    )
    api_key = models.ForeignKey(
        "developers.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="faxes",
        db_index=False,
    )
    livemode = models.BooleanField(default=True)
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.OUTBOUND
    )
    status = models.CharField(max_length=16, choices=FaxStatus.choices, default=FaxStatus.QUEUED)
    to_number = models.CharField(max_length=16)
    # A received fax's sender is stored as the carrier gave it (`anonymous`, a short number,
    # empty): E.164 is only guaranteed for outbound faxes.
    from_number = models.CharField(max_length=64, blank=True)
    client_reference = models.CharField(max_length=128, null=True, blank=True)

    document_source = models.CharField(max_length=8, choices=DocumentSource.choices)
    document_url = models.URLField(max_length=2048, blank=True)
    # When several URL documents are faxed as one: all of them, in order (the first is also
    # `document_url`). Empty for a single document.
    document_urls = models.JSONField(default=list, blank=True)
    document_content_type = models.CharField(max_length=64, blank=True)
    document_size_bytes = models.PositiveIntegerField(null=True, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    document = models.FileField(upload_to="faxes/", blank=True)
    # When the stored document was deleted (retention or DELETE /v1/faxes/{id}/document); the
    # fax keeps its other document fields (type, size, hash).
    document_purged_at = models.DateTimeField(null=True, blank=True)
    # How many documents were sent to be faxed as one, in order; the stored `document` is them
    # merged, after the cover page when there is one.
    document_count = models.PositiveSmallIntegerField(default=1)
    # The cover page asked for ({to_name, from_name, subject, message}), or null; rendered when
    # the document is assembled (at intake, or once a URL document is fetched).
    cover_page = models.JSONField(null=True, blank=True)
    # The header line (date and time sent, business name, number, "Page n/N") stamped on every
    # page just before each submission; `header_text` replaces the account's name in it.
    header = models.BooleanField(default=True)
    header_text = models.CharField(max_length=60, blank=True)
    # The header line's text (before "Page n/N") that the latest submission was stamped with:
    # the document is downloaded and previewed stamped with it, byte for byte as the carrier got
    # it. Empty before the first submission. The stored `document` itself is never stamped.
    header_line = models.CharField(max_length=200, blank=True)
    # A fax mixing inline and URL documents, until its URLs are fetched: each document in order,
    # {"url": ...} or an inline one stored at accept ({"stored": <storage name>, "page_count",
    # "content_type", "size_bytes", "sha256"}), which the fetch assembles with the fetched ones
    # and then deletes. Empty for every other fax.
    document_parts = models.JSONField(default=list, blank=True)
    page_count = models.PositiveSmallIntegerField(null=True, blank=True)
    pages_delivered = models.PositiveSmallIntegerField(null=True, blank=True)

    failure_reason = models.CharField(max_length=40, blank=True)
    failure_message = models.TextField(blank=True)

    carrier = models.CharField(max_length=16, blank=True)
    carrier_fax_id = models.CharField(max_length=64, null=True, blank=True)
    # The worker fetching or submitting the fax holds a lease until `lease_expires_at`, after
    # which another worker may take the fax over; a submitter's lease also has a token.
    submit_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When the task for the fax's current step (fetch or submit) was last sent to the broker (a
    # retry: when it is due); null when sending it failed. The sweeper sends it again only once
    # this is overdue, and fails the fax after `pipeline_restarts` runs out.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    pipeline_restarts = models.PositiveSmallIntegerField(default=0)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    # Set just before each POST to the carrier; with no carrier id stored, a later attempt must
    # first ask the carrier whether that POST created a fax.
    submitted_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # When the customer asked to cancel a fax that may already be with the carrier; the fax
    # becomes `canceled` when the carrier reports that it stopped (a failure after this time).
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # Automatic redial: how many more calls after the first a busy line, no answer or a broken
    # transmission earns, and the wait between them. Between calls the fax is queued with
    # `next_attempt_at`, which the sweeper claims when it is due.
    retry_attempts = models.PositiveSmallIntegerField(default=0)
    retry_interval_seconds = models.PositiveIntegerField(default=300)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Each finished call: {"number", "started_at", "completed_at", "status", "failure_reason",
    # "pages_delivered", "carrier_fax_id"} (the last one not shown to customers).
    attempts = models.JSONField(default=list, blank=True)
    # Scheduling: the fax stays `scheduled` until this time, when a periodic task releases it
    # (`faxes_release_scheduled`); kept afterwards as the time it was asked to leave.
    send_at = models.DateTimeField(null=True, blank=True)
    # A resend: the fax whose document this one sends again.
    resent_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resends",
        db_index=False,
    )
    # Inbound: when a member first opened the fax in the dashboard (null: unread in the inbox).
    read_at = models.DateTimeField(null=True, blank=True)

    # No index of its own: fax_account_newest serves listings, which always name the account.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "faxes"
        constraints = [
            # Partial: a fax has no carrier id until it is submitted, and a send writes no entry.
            models.UniqueConstraint(
                fields=["carrier_fax_id"],
                name="fax_carrier_fax_id_unique",
                condition=Q(carrier_fax_id__isnull=False),
            ),
        ]
        indexes = [
            # Serves the account's newest-first listing in each world, and the account's faxes
            # (deleting an account).
            models.Index(
                fields=["account", "livemode", "-created_at", "-id"], name="fax_account_newest"
            ),
            # For the foreign keys' ON DELETE SET NULL: only the faxes that have one.
            models.Index(
                fields=["api_key"], name="fax_api_key", condition=Q(api_key__isnull=False)
            ),
            models.Index(
                fields=["resent_from"],
                name="fax_resent_from",
                condition=Q(resent_from__isnull=False),
            ),
            models.Index(
                fields=["status", "updated_at"],
                name="fax_unfinished",
                condition=Q(
                    status__in=["scheduled", "queued", "submitting", "sending", "receiving"]
                ),
            ),
            # Serves the release of scheduled faxes (every few seconds): only those wait here.
            models.Index(
                fields=["send_at"], name="fax_scheduled_due", condition=Q(status="scheduled")
            ),
            # Serves the retention purge: finished faxes whose document is still stored.
            models.Index(
                fields=["completed_at"],
                name="fax_document_kept",
                condition=Q(document_purged_at__isnull=True, completed_at__isnull=False),
            ),
        ]
        permissions = [
            ("download_document", "Can download a fax's document (recorded in the audit log)"),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def public_status(self) -> str:
        return PUBLIC_STATUS.get(self.status, self.status)

    @property
    def document_url_shown(self) -> str:
        """The `document_url` as answers, webhooks and pages show it: without its query string."""
        return without_query(self.document_url)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class FaxEvent(models.Model):
    """One thing that happened to a fax: accepted, fetched, submitted, a carrier event, failed."""

    # No index of the foreign key's own: faxevent_fax_occurred (below) serves it.
    fax = models.ForeignKey(Fax, on_delete=models.CASCADE, related_name="events", db_index=False)
    source = models.CharField(max_length=16)  # api, pipeline, carrier, simulator
    type = models.CharField(max_length=64)
    carrier_event_id = models.CharField(max_length=64, null=True, blank=True)
    occurred_at = models.DateTimeField()
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            # Partial: only the carrier's events have an id.
            models.UniqueConstraint(
                fields=["carrier_event_id"],
                name="faxevent_carrier_event_id_unique",
                condition=Q(carrier_event_id__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["fax", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class EmailState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class FaxEmail(models.Model):
    """A received fax emailed to one recipient of its number (fax-to-email), and how that went."""

    fax = models.ForeignKey(Fax, on_delete=models.CASCADE, related_name="emails")
    recipient = models.EmailField()
    attach_pdf = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=EmailState.choices, default=EmailState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fax", "recipient"], name="fax_email_once_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fax_id} email ({self.state})"


class IdempotencyKey(models.Model):
    """A claimed Idempotency-Key and the answer it gets on replay. Kept at least 24 hours."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=True)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    fax = models.ForeignKey(Fax, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "livemode", "key"], name="idempotency_key_once_per_world"
            )
        ]

    def __str__(self) -> str:
        return self.key
