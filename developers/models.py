from __future__ import annotations

from django.db import models

from sendfaxmail.lib.ids import key_id


class Scope(models.TextChoices):
    FAXES_SEND = "faxes:send", "Send faxes (faxes:send)"
    FAXES_READ = "faxes:read", "Read faxes (faxes:read)"
    NUMBERS_READ = "numbers:read", "Read numbers (numbers:read)"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def visible(self) -> ApiKeyQuerySet:
        """Keys the account can see: all but the deleted ones."""
        return self.filter(deleted_at__isnull=True)

    def usable(self) -> ApiKeyQuerySet:
        return self.filter(deleted_at__isnull=True, revoked_at__isnull=True)


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
