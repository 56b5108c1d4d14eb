"""Services for an account's members: invitations, roles, removal.

Rules that hold whoever calls these (the dashboard, the admin, a command):
- Owners invite, change and remove anyone; admins do so for every role below owner and never
  touch an owner (`permissions.Action.MANAGE_OWNERS`).
- An account always keeps an owner: the last one cannot be demoted, removed or leave. The owner
  rows are locked while this is checked, so two owners demoting each other at once cannot
  leave none.
- An invitation is a signed link valid 72 hours, used once, for one address and one account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Invitation, Membership, Role, User
from accounts.permissions import Action, role_allows
from accounts.services import AccountError, email_normalize
from audit.models import Action as AuditAction
from audit.services import Actor, actor_for_user, audit_record

INVITATION_LIFETIME = timedelta(hours=72)
INVITATION_SALT = "accounts.invitation"


class MemberError(AccountError):
    """A member change that is not allowed, with a message fit to show."""


def _check_may_manage(*, by: Membership, role: str, target_role: str | None = None) -> None:
    """`by` may give `role` (and change a member who has `target_role`), or MemberError."""
    if not role_allows(by.role, Action.MANAGE_MEMBERS):
        raise MemberError("Only owners and admins manage members.")
    if Role.OWNER in (role, target_role) and not role_allows(by.role, Action.MANAGE_OWNERS):
        raise MemberError("Only an owner can make, change or remove an owner.")


# --- Invitations ---------------------------------------------------------------------------


def invitation_create(
    *, by: Membership, email: str, role: str, site_url: str, actor: Actor | None = None
) -> Invitation:
    """Invite `email` to `by`'s account as `role` and mail the link. A newer invitation to the
    same address replaces a pending one. MemberError if the address is a member already.
    `actor` is `by` as the audit log names them (with their request's address)."""
    email = email_normalize(email)
    if role not in Role.values:
        raise MemberError(f"Unknown role '{role}'.")
    _check_may_manage(by=by, role=role)
    account = by.account
    if Membership.objects.filter(account=account, user__email__iexact=email).exists():
        raise MemberError(f"{email} is a member of this account already.")
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(
            account=account,
            email=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            account=account,
            email=email,
            role=role,
            token_hash=_token_hash(secret),
            invited_by=by.user,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        audit_record(
            action=AuditAction.MEMBER_INVITED,
            account_id=account.pk,
            actor=actor or actor_for_user(by.user),
            target_type="invitation",
            target_id=str(invitation.pk),
            target_label=email,
            details={"role": role},
        )
    token = signing.dumps(secret, salt=INVITATION_SALT)
    context = {
        "account": account,
        "role": invitation.get_role_display(),
        "invited_by": by.user,
        "accept_url": site_url + reverse("invitation_accept", kwargs={"token": token}),
        "hours": int(INVITATION_LIFETIME.total_seconds() // 3600),
    }
    send_mail(
        f"You are invited to {account.name} on SendFaxMail",
        render_to_string("registration/invitation_email.txt", context),
        None,
        [email],
    )
    return invitation


def invitation_read(*, token: str) -> Invitation:
    """The pending invitation a link carries, or MemberError: altered, expired (72 hours),
    used, or withdrawn (revoked, or replaced by a newer one)."""
    try:
        secret = signing.loads(
            token, salt=INVITATION_SALT, max_age=INVITATION_LIFETIME.total_seconds()
        )
    except signing.BadSignature:
        raise MemberError("This invitation link is invalid or has expired.") from None
    invitation = (
        Invitation.objects.select_related("account", "invited_by")
        .filter(token_hash=_token_hash(secret))
        .first()
    )
    _check_pending(invitation)
    return invitation


def _check_pending(invitation: Invitation | None) -> None:
    if invitation is None:
        raise MemberError("This invitation link is invalid or has expired.")
    if invitation.accepted_at is not None:
        raise MemberError("This invitation was used already.")
    if invitation.revoked_at is not None:
        raise MemberError("This invitation was withdrawn. Ask for a new one.")
    if invitation.expires_at <= timezone.now():
        raise MemberError("This invitation link is invalid or has expired.")


def invitation_accept(
    *, invitation: Invitation, user: User, actor: Actor | None = None
) -> Membership:
    """`user` joins the invitation's account with its role, once. MemberError if the
    invitation is no longer pending or was sent to another address."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        _check_pending(invitation)
        if user.email.lower() != invitation.email.lower():
            raise MemberError(
                "This invitation was sent to another address. Log in as that address to accept it."
            )
        membership, _ = Membership.objects.get_or_create(
            account_id=invitation.account_id, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            action=AuditAction.MEMBER_JOINED,
            account_id=invitation.account_id,
            actor=actor or actor_for_user(user),
            target_type="membership",
            target_id=str(membership.pk),
            target_label=user.email,
            details={"role": membership.role},
        )
    return membership


def invitation_accept_new_user(
    *, invitation: Invitation, password: str, name: str = "", request: HttpRequest | None = None
) -> Membership:
    """The invitee has no login yet: create it with `password`, then join (the audit log names
    the new user, with `request`'s address)."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=invitation.email, password=password, name=name)
            actor = actor_for_user(user, request)
            return invitation_accept(invitation=invitation, user=user, actor=actor)
    except IntegrityError:  # the address signed up meanwhile
        raise MemberError("This address has a login already: log in to accept.") from None


def invitation_revoke(*, invitation: Invitation, by: Membership) -> None:
    _check_may_manage(by=by, role=invitation.role)
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- Roles and removal ---------------------------------------------------------------------


def membership_set_role(
    *, membership: Membership, role: str, by: Membership, actor: Actor | None = None
) -> Membership:
    """Give `membership` the role `role`. MemberError if `by` may not, or if it would leave the
    account without an owner."""
    if role not in Role.values:
        raise MemberError(f"Unknown role '{role}'.")
    _check_may_manage(by=by, role=role, target_role=membership.role)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(membership, "demoted")
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        if previous != role:
            _audit_member(
                AuditAction.MEMBER_ROLE_CHANGED,
                membership,
                actor or actor_for_user(by.user),
                {"from": previous, "to": role},
            )
    return membership


def membership_remove(
    *, membership: Membership, by: Membership, actor: Actor | None = None
) -> None:
    """Remove a member. Their open sessions lose the account at their next request
    (`accounts.current`). MemberError if `by` may not, or for the last owner."""
    _check_may_manage(by=by, role=membership.role, target_role=membership.role)
    _delete(membership, "removed", actor or actor_for_user(by.user))


def membership_leave(*, membership: Membership, actor: Actor | None = None) -> None:
    """A member leaves the account. MemberError for the last owner."""
    _delete(membership, "leave", actor or actor_for_user(membership.user))


def _delete(membership: Membership, verb: str, actor: Actor) -> None:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        )
        if membership.role == Role.OWNER:
            _keep_an_owner(membership, verb)
        details = {"role": membership.role, "left": verb == "leave"}
        _audit_member(AuditAction.MEMBER_REMOVED, membership, actor, details)
        membership.delete()


def _audit_member(action: str, membership: Membership, actor: Actor, details: dict) -> None:
    audit_record(
        action=action,
        account_id=membership.account_id,
        actor=actor,
        target_type="membership",
        target_id=str(membership.pk),
        target_label=membership.user.email,
        details=details,
    )


def _keep_an_owner(membership: Membership, verb: str) -> None:
    """Inside a transaction: refuse if `membership` is the account's last owner, and move
    `Account.owner` (the primary contact) to another owner if it pointed at this one."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(account_id=membership.account_id, role=Role.OWNER)
        .order_by("created_at", "id")
    )
    others = [owner for owner in owners if owner.pk != membership.pk]
    if not others:
        what = "leave" if verb == "leave" else f"be {verb}"
        raise MemberError(f"The last owner cannot {what}: make another member an owner first.")
    Account.objects.filter(pk=membership.account_id, owner_id=membership.user_id).update(
        owner_id=others[0].user_id
    )


def account_require_two_factor(*, by: Membership, required: bool) -> Account:
    """Require two-factor login of every member of `by`'s account (or stop). Members without it
    are sent to enrolment at their next request."""
    if not role_allows(by.role, Action.MANAGE_SECURITY):
        raise MemberError("Only an owner can change the account's security settings.")
    account = by.account
    account.require_two_factor = required
    account.save(update_fields=["require_two_factor"])
    return account
