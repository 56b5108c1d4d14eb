"""Users log in by email; an Account is the paying customer, with members and a plan.

A user belongs to accounts through memberships, each with a role; the membership is what every
dashboard permission is checked against (`accounts/permissions.py`). One person may be a member
of several accounts and switches between them.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone

TRIAL_DAYS = 7
TRIAL_PLAN = "business"
# How long documents are kept after their fax finished, in days (0: purged at once).
DOCUMENT_RETENTION_DEFAULT_DAYS = 30
DOCUMENT_RETENTION_MAX_DAYS = 365
# Most of our customers are in the US; the time zone is editable per account.
DEFAULT_TIME_ZONE = "America/New_York"

# slug, name, monthly price in cents, API access, sort order.
DEFAULT_PLANS = [
    ("starter", "Starter", 1999, False, 1),
    ("professional", "Professional", 3999, False, 2),
    ("business", "Business", 7999, True, 3),
    ("enterprise", "Enterprise", 16999, True, 4),
]


def validate_time_zone(value: str) -> None:
    """An IANA time zone name, e.g. America/Chicago."""
    try:
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValidationError(
            f"'{value}' is not a time zone name such as America/Chicago or Europe/Paris."
        ) from None


class Plan(models.Model):
    """A price tier. Plans are seeded by a migration and edited in the admin."""

    slug = models.SlugField(primary_key=True, max_length=32)
    name = models.CharField(max_length=64)
    monthly_price_cents = models.PositiveIntegerField()
    api_access = models.BooleanField(
        default=False, help_text="Whether keys of accounts on this plan may call /v1."
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order"]

    def __str__(self) -> str:
        return self.name

    @property
    def monthly_price(self) -> str:
        return f"${self.monthly_price_cents // 100}.{self.monthly_price_cents % 100:02d}"


class Account(models.Model):
    """The customer: owns keys, numbers and faxes. Its members hold it through memberships."""

    name = models.CharField(max_length=200)
    # The primary contact, always one of the owner memberships (the services keep it so when
    # an owner is demoted or removed). Access is decided by memberships, never by this field.
    owner = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="owned_accounts"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    trial_ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while on the sign-up trial; cleared by a plan change."
    )
    document_retention_days = models.PositiveSmallIntegerField(
        default=DOCUMENT_RETENTION_DEFAULT_DAYS,
        validators=[MaxValueValidator(DOCUMENT_RETENTION_MAX_DAYS)],
        help_text="Days a fax's document is kept once the fax is delivered, failed or canceled "
        "(0: deleted at once). Change it with account_set_document_retention.",
    )
    # Automatic redial of a send that names no `retry`: none by default, so that existing
    # integrations and the sandbox's magic numbers keep their behaviour.
    fax_retry_attempts = models.PositiveSmallIntegerField(default=0)
    fax_retry_interval_seconds = models.PositiveIntegerField(default=300)
    # The zone of the date and time in the header line of the faxes it sends (an IANA name).
    time_zone = models.CharField(
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="The time zone of the date and time in the header line of its faxes.",
    )
    require_two_factor = models.BooleanField(
        default=False,
        help_text="Every member must use two-factor login; members without it must enrol first.",
    )
    members = models.ManyToManyField(
        "accounts.User", through="accounts.Membership", related_name="accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def on_trial(self) -> bool:
        return self.trial_ends_at is not None and self.trial_ends_at > timezone.now()

    @property
    def trial_expired(self) -> bool:
        return self.trial_ends_at is not None and self.trial_ends_at <= timezone.now()

    @property
    def has_api_access(self) -> bool:
        """Whether the account's current plan includes the API. Needs `plan` loaded, no query."""
        return self.plan.api_access and not self.trial_expired

    @property
    def plan_label(self) -> str:
        if self.on_trial:
            return f"{self.plan.name} (trial)"
        if self.trial_expired:
            return "Trial ended"
        return self.plan.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address. Staff users may have no account."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


class Role(models.TextChoices):
    """A member's role in one account, from most to least powerful (`permissions.py` says what
    each may do)."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    SENDER = "sender", "Sender"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's place in an account. At most one per (account, user)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="membership_account_user")
        ]
        indexes = [models.Index(fields=["account", "role"], name="membership_account_role")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) in {self.account}"


class Invitation(models.Model):
    """An emailed invitation to join an account with a role.

    The link carries a signed random token; only its SHA-256 is stored, so the table does not
    hold working links. It can be used once (`accepted_at`), until `expires_at` (72 hours),
    unless it was revoked or replaced by a newer invitation to the same address.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "email"], name="invitation_account_email")]

    def __str__(self) -> str:
        return f"{self.email} to {self.account} as {self.role}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )
