"""Two-factor login services: TOTP (authenticator apps) and recovery codes, with django-otp.

A user has two-factor login on when they have a confirmed `TOTPDevice`. Enrolling creates it
unconfirmed, shows its secret (as a QR code and as text), and confirms it with a code from the
app; ten recovery codes are then made (a `StaticDevice`) and shown once. Each code, TOTP or
recovery, is checked through django-otp inside a transaction with the device row locked:

- a TOTP code is accepted once: the device remembers the last time step it accepted
  (`last_t`), so the same code, or an older one, is refused afterwards (no replay);
- a recovery code is deleted when used; only its SHA-256 is stored (django-otp would keep it in
  clear), so the table does not hold working codes;
- every failure doubles the wait before the device accepts another try (django-otp's
  throttling: 1 s, 2 s, 4 s, ...), which is what stops guessing the six digits.
"""

from __future__ import annotations

import hashlib
import secrets
from base64 import b32encode
from dataclasses import dataclass

import django_otp
import qrcode
import qrcode.image.svg
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, User
from audit.models import Action
from audit.services import Actor, actor_for_user, audit_record

RECOVERY_CODE_COUNT = 10
# 12 characters of base32 (60 bits), shown as xxxx-xxxx-xxxx.
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY_LENGTH = 12
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


class TwoFactorError(Exception):
    """A code that was refused, with a message fit to show the person who typed it."""


@dataclass(frozen=True)
class Verification:
    """A code that was accepted: the device that accepted it, and whether it was a recovery
    code (with how many are left)."""

    device: TOTPDevice | StaticDevice
    recovery_code_used: bool
    recovery_codes_left: int = 0


def two_factor_enabled(*, user: User) -> bool:
    """Whether the user logs in with a second factor (a confirmed authenticator app)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_required(*, user: User, memberships: list[Membership]) -> bool:
    """Whether the user must use two-factor login: staff always (the admin reaches every
    account), and members of any account whose owner requires it."""
    return user.is_staff or any(m.account.require_two_factor for m in memberships)


def totp_device_pending(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator the user is enrolling (made on first call, then the same
    one, so that reloading the page does not change the secret they scanned)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_secret_text(device: TOTPDevice) -> str:
    """The secret as an authenticator app asks for it when typed in: base32, in groups of 4."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(text: str) -> str:
    """An inline SVG QR code of `text` (made here: the secret never goes to a QR service)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def two_factor_enrol(*, device: TOTPDevice, code: str, actor: Actor | None = None) -> list[str]:
    """Confirm the pending `device` with a code from the app. It replaces any authenticator the
    user had. Returns the new recovery codes (shown once). TwoFactorError for a wrong code.
    `actor` (with the request's address) is who the audit log says did it; the user if None."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, confirmed=False)
        _check_allowed(device)
        # A wrong code is counted (the throttle) and committed: no exception inside this block.
        accepted = device.verify_token(_digits(code))
        if accepted:
            TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = recovery_codes_create(user=device.user)
            _audit(Action.TWO_FACTOR_ENROLLED, user=device.user, actor=actor)
    if not accepted:
        raise TwoFactorError("That code is not right. Check the time on your phone and try again.")
    return codes


@transaction.atomic
def recovery_codes_create(*, user: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working. Returns them in clear, the only time
    they exist so."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [_recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=_recovery_digest(code)) for code in codes
    )
    return codes


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_verify(
    *, user: User, code: str, actor: Actor | None = None, recovery_ok: bool = True
) -> Verification:
    """Check a second-factor code: six digits from the app, or (unless `recovery_ok` is False)
    a recovery code. Returns what accepted it; TwoFactorError if nothing did, or while the
    device is throttled. A recovery code used is recorded in the audit log (by `actor`, the
    user if None)."""
    code = code.strip()
    is_totp = _digits(code).isdigit() and len(_digits(code)) <= 8
    if not is_totp and not recovery_ok:
        raise TwoFactorError("Use a code from your authenticator app here.")
    if is_totp:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            raise TwoFactorError("Two-factor login is not set up for this user.")
        _check_allowed(device)
        accepted = django_otp.verify_token(user, device.persistent_id, _digits(code))
        if accepted is None:
            raise TwoFactorError(
                "That code is not right, or it was used already. Wait for the next code."
            )
        return Verification(device=accepted, recovery_code_used=False)
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise TwoFactorError("That is not a valid code.")
    _check_allowed(device)
    accepted = django_otp.verify_token(user, device.persistent_id, _recovery_digest(code))
    if accepted is None:
        raise TwoFactorError("That recovery code is not right, or it was used already.")
    left = recovery_codes_left(user=user)
    _audit(Action.RECOVERY_CODE_USED, user=user, actor=actor, details={"remaining": left})
    return Verification(device=accepted, recovery_code_used=True, recovery_codes_left=left)


@transaction.atomic
def two_factor_disable(*, user: User, actor: Actor | None = None) -> None:
    """Remove the user's authenticator and recovery codes (the caller re-authenticated them,
    or is staff helping a locked-out user: `actor`, recorded in the audit log)."""
    removed, _ = TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    if removed:
        _audit(Action.TWO_FACTOR_DISABLED, user=user, actor=actor)


def _audit(action: str, *, user: User, actor: Actor | None, details: dict | None = None) -> None:
    """One entry for each account the user is a member of (each account's owners see it on
    their Security page), or one for no account (staff)."""
    account_ids = list(
        Membership.objects.filter(user=user).values_list("account_id", flat=True)
    ) or [None]
    for account_id in account_ids:
        audit_record(
            action=action,
            account_id=account_id,
            actor=actor or actor_for_user(user),
            target_type="user",
            target_id=str(user.pk),
            target_label=user.email,
            details=details,
        )


def _check_allowed(device: TOTPDevice | StaticDevice) -> None:
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        wait = max(1, round((locked_until - timezone.now()).total_seconds())) if locked_until else 1
        raise TwoFactorError(
            f"Too many wrong codes. Wait {wait} second{'s' if wait != 1 else ''} and try again."
        )


def _digits(code: str) -> str:
    return code.replace(" ", "").replace("-", "")


def _recovery_code_new() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _recovery_digest(code: str) -> str:
    """What is stored for a recovery code: 16 hex characters of the SHA-256 of the code as
    typed in any case, with or without dashes and spaces (StaticToken holds 16 characters)."""
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalized.encode()).hexdigest()[:16]
