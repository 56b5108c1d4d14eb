"""The audit log: one append-only table of who did what, to which account's data, from where.

Rows are written by `audit.services.audit_record` and never changed or removed: `save()` refuses
an existing row, `delete()` and the queryset's `update()`/`delete()` raise, the admin is
read-only, and on PostgreSQL a trigger (migration 0002) refuses UPDATE and DELETE from any SQL.
Rows are kept at least six years (HIPAA's documentation retention); nothing purges them.

The account is a plain indexed `account_id`, not a foreign key: the log outlives the account
and is never deleted with it, and this app sits below `accounts` in the layers.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Something tried to change or remove an audit entry."""


def _refuse(what: str) -> NoReturn:
    raise AppendOnlyError(f"The audit log is append-only: {what} is refused.")


class ActorType(models.TextChoices):
    MEMBER = "member", "Member"
    API_KEY = "api_key", "API key"
    STAFF = "staff", "SendFaxMail staff"
    SYSTEM = "system", "System"
    # Someone not signed in: a failed login with an address that has no user.
    ANONYMOUS = "anonymous", "Not signed in"


class Action(models.TextChoices):
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login.failed", "Failed login"
    LOGOUT = "logout", "Logged out"
    TWO_FACTOR_ENROLLED = "two_factor.enrolled", "Two-factor login turned on"
    TWO_FACTOR_DISABLED = "two_factor.disabled", "Two-factor login turned off"
    RECOVERY_CODE_USED = "two_factor.recovery_code_used", "Recovery code used"
    MEMBER_INVITED = "member.invited", "Member invited"
    MEMBER_JOINED = "member.joined", "Member joined"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member's role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    API_KEY_DELETED = "api_key.deleted", "API key deleted"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created", "Webhook endpoint created"
    WEBHOOK_ENDPOINT_CHANGED = "webhook_endpoint.changed", "Webhook endpoint changed"
    WEBHOOK_SECRET_REVEALED = "webhook_endpoint.secret_revealed", "Webhook secret revealed"
    WEBHOOK_SECRET_ROTATED = "webhook_endpoint.secret_rotated", "Webhook secret rotated"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted", "Webhook endpoint deleted"
    DOCUMENT_VIEWED = "document.viewed", "Document viewed"
    DOCUMENT_DOWNLOADED = "document.downloaded", "Document downloaded"
    FAX_CANCELED = "fax.canceled", "Fax canceled"
    RETENTION_CHANGED = "retention.changed", "Document retention changed"
    ACCOUNT_CHANGED = "account.changed", "Account name or time zone changed"
    PLAN_CHANGED = "plan.changed", "Plan changed"
    ADMIN_VIEWED = "admin.viewed", "Staff opened account data in the admin"
    AUDIT_LOG_EXPORTED = "audit_log.exported", "Security log exported"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Reads and inserts only: every bulk change raises."""

    def update(self, **kwargs: Any) -> NoReturn:
        _refuse("update()")

    def delete(self) -> NoReturn:
        _refuse("delete()")

    def _raw_delete(self, using: str) -> NoReturn:
        # What Django's deletion collector calls for a "fast" delete.
        _refuse("delete()")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> NoReturn:
        _refuse("bulk_update()")


class AuditEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    # accounts.Account's primary key (a BigAutoField); empty for events of no account (a staff
    # login, a failed login with an unknown address, staff opening a list of many accounts).
    account_id = models.BigIntegerField(null=True, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    # An email address, or an API key's name and display prefix; never a secret.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, choices=Action.choices)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    # Small, and never a key, secret, password or document content (audit.services guards it).
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # The Security page and its export: one account's entries, newest first, in pages.
            models.Index(fields=["account_id", "-occurred_at", "-id"], name="audit_account_time"),
            # The admin's list of everything, newest first.
            models.Index(fields=["-occurred_at", "-id"], name="audit_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_label or self.actor_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert a new entry; an existing one cannot be saved again."""
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            _refuse("changing an entry")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("deleting an entry")
