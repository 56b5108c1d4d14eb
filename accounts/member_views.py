"""/dashboard/members: the account's members and invitations; switching and leaving accounts;
and the page an invitation link opens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.current import session_account_set
from accounts.forms import InvitationForm, InvitationPasswordForm, RoleForm
from accounts.members import (
    MemberError,
    account_require_two_factor,
    invitation_accept,
    invitation_accept_new_user,
    invitation_create,
    invitation_read,
    invitation_revoke,
    membership_leave,
    membership_remove,
    membership_set_role,
)
from accounts.models import Invitation, Membership, Role, User
from accounts.permissions import Action, member_required, role_allows
from audit.services import actor_from_request


def _roles_for(membership: Membership) -> list[tuple[str, str]]:
    """The roles this member may give: all for an owner, all below owner for an admin."""
    if role_allows(membership.role, Action.MANAGE_OWNERS):
        return list(Role.choices)
    return [(value, label) for value, label in Role.choices if value != Role.OWNER]


def _members_page(
    request: HttpRequest, *, form: InvitationForm | None = None, status: int = 200
) -> HttpResponse:
    membership = request.membership
    account = membership.account
    context = {
        "account": account,
        "members": account.memberships.select_related("user").order_by("created_at", "id"),
        "invitations": account.invitations.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("invited_by")
        .order_by("-created_at"),
        "form": form or InvitationForm(roles=_roles_for(membership)),
        "roles": _roles_for(membership),
        "may_manage_owners": role_allows(membership.role, Action.MANAGE_OWNERS),
    }
    return render(request, "dashboard/members.html", context, status=status)


@member_required(Action.MANAGE_MEMBERS)
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest) -> HttpResponse:
    """The member list; POST invites someone."""
    if request.method == "GET":
        return _members_page(request)
    form = InvitationForm(request.POST, roles=_roles_for(request.membership))
    if form.is_valid():
        try:
            invitation = invitation_create(
                by=request.membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                site_url=f"{request.scheme}://{request.get_host()}",
                actor=actor_from_request(request),
            )
        except MemberError as error:
            form.add_error("email", str(error))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("dashboard:members")
    return _members_page(request, form=form, status=400)


def _member(request: HttpRequest, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "account"),
        pk=membership_id,
        account=request.membership.account,
    )


@member_required(Action.MANAGE_MEMBERS)
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = _member(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
        return redirect("dashboard:members")
    try:
        membership_set_role(
            membership=member,
            role=form.cleaned_data["role"],
            by=request.membership,
            actor=actor_from_request(request),
        )
    except MemberError as error:
        messages.error(request, str(error))
        return _members_page(request, status=400)
    messages.success(request, f"{member.user.email} is now {form.cleaned_data['role']}.")
    return redirect("dashboard:members")


@member_required(Action.MANAGE_MEMBERS)
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = _member(request, membership_id)
    try:
        membership_remove(
            membership=member, by=request.membership, actor=actor_from_request(request)
        )
    except MemberError as error:
        messages.error(request, str(error))
        return _members_page(request, status=400)
    messages.success(request, f"{member.user.email} was removed from the account.")
    if member.pk == request.membership.pk:
        return redirect("dashboard:home")
    return redirect("dashboard:members")


@member_required(Action.MANAGE_MEMBERS)
@require_POST
def invitation_withdraw(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, account=request.membership.account)
    try:
        invitation_revoke(invitation=invitation, by=request.membership)
    except MemberError as error:
        messages.error(request, str(error))
        return _members_page(request, status=400)
    messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("dashboard:members")


@member_required(Action.MANAGE_SECURITY)
@require_POST
def two_factor_requirement(request: HttpRequest) -> HttpResponse:
    """The owner requires (or stops requiring) two-factor login of every member."""
    required = request.POST.get("required") == "on"
    account_require_two_factor(by=request.membership, required=required)
    messages.success(
        request,
        "Every member must now use two-factor login."
        if required
        else "Two-factor login is no longer required.",
    )
    return redirect("dashboard:members")


@member_required(Action.VIEW_DASHBOARD)
@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    try:
        membership_leave(membership=request.membership, actor=actor_from_request(request))
    except MemberError as error:
        messages.error(request, str(error))
        return redirect("dashboard:home")
    session_account_set(request, None)
    messages.success(request, f"You left {request.membership.account.name}.")
    return redirect("dashboard:home")


@member_required(Action.VIEW_DASHBOARD)
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    """Work in another of the user's accounts (a 404 for one that is not theirs)."""
    target = get_object_or_404(
        Membership.objects.select_related("account"),
        user=request.user,
        account_id=request.POST.get("account", "").strip() or None,
    )
    session_account_set(request, target.account)
    return redirect("dashboard:home")


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link. A logged-in invitee joins with one click; someone with a login signs
    in first; someone without one chooses a password here."""
    try:
        invitation = invitation_read(token=token)
    except MemberError as error:
        return _refused(request, error)
    context: dict[str, object] = {"invitation": invitation}
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                membership = invitation_accept(
                    invitation=invitation, user=request.user, actor=actor_from_request(request)
                )
            except MemberError as error:
                return _refused(request, error)
            session_account_set(request, membership.account)
            messages.success(request, f"You joined {membership.account.name}.")
            return redirect("dashboard:home")
        if request.user.email.lower() != invitation.email.lower():
            return _refused(
                request,
                MemberError(
                    "This invitation was sent to another address. "
                    "Log out and log in as that address to accept it."
                ),
            )
        return render(request, "registration/invitation_accept.html", context)
    if User.objects.filter(email__iexact=invitation.email).exists():
        context["login_needed"] = True
        return render(request, "registration/invitation_accept.html", context)
    form = InvitationPasswordForm(request.POST or None, email=invitation.email, name="")
    context["form"] = form
    if request.method == "POST" and form.is_valid():
        try:
            membership = invitation_accept_new_user(
                invitation=invitation,
                password=form.cleaned_data["password"],
                name=form.cleaned_data["name"],
                request=request,
            )
        except MemberError as error:
            return _refused(request, error)
        login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        session_account_set(request, membership.account)
        return redirect("dashboard:home")
    status = 400 if request.method == "POST" else 200
    return render(request, "registration/invitation_accept.html", context, status=status)


def _refused(request: HttpRequest, error: MemberError) -> HttpResponse:
    return render(
        request, "registration/invitation_refused.html", {"message": str(error)}, status=400
    )
