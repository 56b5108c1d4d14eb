"""Team members: invitations by email, roles, the last owner, removal, switching accounts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.members import MemberError, invitation_create, membership_set_role
from accounts.models import Account, Invitation, Membership, Role, User
from audit.models import Action as AuditAction
from audit.models import AuditEntry
from tests.factories import PASSWORD, FaxFactory, UserFactory, member

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/accounts/invitations/[^/\s]+/)")


def invite(client: Client, email: str, role: str = Role.DEVELOPER) -> str:
    """Invite `email` from the members page; returns the path of the mailed link."""
    response = client.post("/dashboard/members", {"email": email, "role": role})
    assert response.status_code == 302, response.content.decode()[:2000]
    return LINK.search(mail.outbox[-1].body).group(1)


def log_in(email: str, password: str = PASSWORD) -> Client:
    """A real login through the login form."""
    client = Client()
    response = client.post("/accounts/login/", {"username": email, "password": password})
    assert response.status_code == 302
    return client


def membership(account: Account, user: User) -> Membership:
    return Membership.objects.get(account=account, user=user)


# --- Invitations ---------------------------------------------------------------------------


def test_it_mails_a_link_and_stores_only_its_hash(owner_client: Client, account: Account) -> None:
    link = invite(owner_client, "nurse@example.com")

    invitation = Invitation.objects.get(account=account)
    assert mail.outbox[-1].to == ["nurse@example.com"]
    assert account.name in mail.outbox[-1].subject
    assert "72 hours" in mail.outbox[-1].body
    assert invitation.token_hash not in link
    assert invitation.expires_at - invitation.created_at == timedelta(hours=72)


def test_a_new_person_chooses_a_password_and_joins(owner_client: Client, account: Account) -> None:
    link = invite(owner_client, "nurse@example.com", Role.SENDER)
    client = Client()

    form = client.get(link)
    joined = client.post(link, {"password": "a-long-new-passphrase", "name": "Nurse"})

    assert form.status_code == 200
    assert "Choose a password" in form.content.decode()
    assert joined.status_code == 302
    user = User.objects.get(email="nurse@example.com")
    assert membership(account, user).role == Role.SENDER
    assert client.get("/dashboard/faxes").status_code == 200
    assert Invitation.objects.get(account=account).accepted_by == user


def test_someone_with_a_login_signs_in_then_joins(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    link = invite(owner_client, other_account.owner.email, Role.VIEWER)

    anonymous = Client().get(link).content.decode()
    client = log_in(other_account.owner.email)
    joined = client.post(link)

    assert "Log in to accept" in anonymous
    assert joined.status_code == 302
    assert membership(account, other_account.owner).role == Role.VIEWER
    assert membership(other_account, other_account.owner).role == Role.OWNER
    # The session now works in the account just joined.
    assert account.name in client.get("/dashboard/").content.decode()


def test_it_refuses_an_expired_invitation(owner_client: Client, account: Account) -> None:
    link = invite(owner_client, "late@example.com")

    with time_machine.travel(timezone.now() + timedelta(hours=72, minutes=1)):
        response = Client().post(link, {"password": "a-long-new-passphrase"})

    assert response.status_code == 400
    assert "invalid or has expired" in response.content.decode()
    assert not User.objects.filter(email="late@example.com").exists()


def test_it_refuses_an_invitation_used_already(owner_client: Client, account: Account) -> None:
    link = invite(owner_client, "once@example.com")
    Client().post(link, {"password": "a-long-new-passphrase"})

    again = Client().post(link, {"password": "another-long-passphrase"})

    assert again.status_code == 400
    assert "used already" in again.content.decode()
    assert Membership.objects.filter(account=account).count() == 2


def test_it_refuses_an_invitation_sent_to_another_email(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    link = invite(owner_client, "someone-else@example.com")
    client = log_in(other_account.owner.email)

    page = client.get(link)
    post = client.post(link)

    assert page.status_code == post.status_code == 400
    assert "sent to another address" in post.content.decode()
    assert not Membership.objects.filter(account=account, user=other_account.owner).exists()
    assert Invitation.objects.get(account=account).accepted_at is None


def test_it_refuses_to_withdraw_another_accounts_invitation(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    link = invite(owner_client, "nurse@example.com")
    invitation = Invitation.objects.get(account=account)
    intruder = Client()
    intruder.force_login(other_account.owner)

    response = intruder.post(f"/dashboard/invitations/{invitation.pk}/withdraw")

    assert response.status_code == 404
    assert Client().get(link).status_code == 200


def test_an_invitation_joins_its_own_account_only(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    """A member of another account accepting joins the inviting account, never the one their
    session was working in, with the role of the invitation."""
    link = invite(owner_client, "dev@example.com", Role.DEVELOPER)
    user = member(other_account, Role.VIEWER, email="dev@example.com")
    client = log_in(user.email)

    client.post(link)

    assert membership(account, user).role == Role.DEVELOPER
    assert membership(other_account, user).role == Role.VIEWER


def test_an_altered_link_is_refused(owner_client: Client) -> None:
    link = invite(owner_client, "nurse@example.com")

    response = Client().get(link[:-3] + "xx/")

    assert response.status_code == 400


def test_a_withdrawn_invitation_is_refused(owner_client: Client, account: Account) -> None:
    link = invite(owner_client, "nurse@example.com")
    invitation = Invitation.objects.get(account=account)

    owner_client.post(f"/dashboard/invitations/{invitation.pk}/withdraw")

    assert "withdrawn" in Client().get(link).content.decode()


def test_a_new_invitation_replaces_the_pending_one(owner_client: Client) -> None:
    first = invite(owner_client, "nurse@example.com")
    second = invite(owner_client, "nurse@example.com", Role.VIEWER)

    assert Client().get(first).status_code == 400
    assert Client().get(second).status_code == 200


def test_it_refuses_to_invite_a_member(owner_client: Client, account: Account) -> None:
    response = owner_client.post(
        "/dashboard/members", {"email": account.owner.email, "role": Role.VIEWER}
    )

    assert response.status_code == 400
    assert "is a member of this account already" in response.content.decode()
    assert mail.outbox == []


def test_an_admin_cannot_invite_an_owner(account: Account) -> None:
    admin = membership(account, member(account, Role.ADMIN))

    with pytest.raises(MemberError, match="Only an owner"):
        invitation_create(by=admin, email="boss@example.com", role=Role.OWNER, site_url="")


def test_an_admin_invites_below_owner(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.ADMIN))

    invite(client, "dev@example.com", Role.ADMIN)

    assert Invitation.objects.get(account=account).role == Role.ADMIN


def test_the_members_page_lists_pending_invitations_only(
    owner_client: Client, account: Account
) -> None:
    invite(owner_client, "pending@example.com")
    invite(owner_client, "stale@example.com")
    Invitation.objects.filter(email="stale@example.com").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    page = owner_client.get("/dashboard/members").content.decode()

    table = page[page.index('id="invitations"') :]
    assert "pending@example.com" in table
    assert "stale@example.com" not in table


# --- Roles and the last owner --------------------------------------------------------------


def test_the_owner_changes_a_role(owner_client: Client, account: Account) -> None:
    target = membership(account, member(account, Role.VIEWER))

    owner_client.post(f"/dashboard/members/{target.pk}/role", {"role": Role.DEVELOPER})

    target.refresh_from_db()
    assert target.role == Role.DEVELOPER


def test_the_last_owner_cannot_be_demoted(owner_client: Client, account: Account) -> None:
    owner = membership(account, account.owner)

    response = owner_client.post(f"/dashboard/members/{owner.pk}/role", {"role": Role.ADMIN})

    owner.refresh_from_db()
    assert response.status_code == 400
    assert "The last owner cannot be demoted" in response.content.decode()
    assert owner.role == Role.OWNER


def test_the_last_owner_cannot_leave(owner_client: Client, account: Account) -> None:
    owner_client.post("/dashboard/leave")

    assert membership(account, account.owner).role == Role.OWNER


def test_the_last_owner_cannot_be_removed(owner_client: Client, account: Account) -> None:
    owner = membership(account, account.owner)

    response = owner_client.post(f"/dashboard/members/{owner.pk}/remove")

    assert response.status_code == 400
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_one_of_two_owners_can_leave_and_the_other_becomes_the_contact(
    owner_client: Client, account: Account
) -> None:
    second = member(account, Role.OWNER)
    first = account.owner

    owner_client.post("/dashboard/leave")

    account.refresh_from_db()
    assert not Membership.objects.filter(account=account, user=first).exists()
    assert account.owner == second


def test_two_owners_cannot_demote_each_other_to_none(account: Account) -> None:
    first = membership(account, account.owner)
    second = membership(account, member(account, Role.OWNER))

    membership_set_role(membership=first, role=Role.ADMIN, by=second)
    with pytest.raises(MemberError, match="last owner"):
        membership_set_role(membership=second, role=Role.ADMIN, by=second)

    assert Membership.objects.filter(account=account, role=Role.OWNER).count() == 1


def test_an_admin_cannot_change_or_remove_an_owner(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.ADMIN))
    owner = membership(account, account.owner)
    member(account, Role.OWNER)  # not the last owner: only the role stops the admin

    demote = client.post(f"/dashboard/members/{owner.pk}/role", {"role": Role.VIEWER})
    remove = client.post(f"/dashboard/members/{owner.pk}/remove")

    owner.refresh_from_db()
    assert demote.status_code == remove.status_code == 400
    assert owner.role == Role.OWNER


def test_an_admin_cannot_make_an_owner(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.ADMIN))
    target = membership(account, member(account, Role.VIEWER))

    client.post(f"/dashboard/members/{target.pk}/role", {"role": Role.OWNER})

    target.refresh_from_db()
    assert target.role == Role.VIEWER


def test_members_of_another_account_are_a_404(owner_client: Client, other_account: Account) -> None:
    stranger = membership(other_account, member(other_account, Role.VIEWER))

    response = owner_client.post(f"/dashboard/members/{stranger.pk}/remove")

    assert response.status_code == 404
    assert Membership.objects.filter(pk=stranger.pk).exists()


# --- Removal ends the session --------------------------------------------------------------


def test_removing_a_member_logs_out_their_open_session(
    owner_client: Client, account: Account
) -> None:
    user = member(account, Role.DEVELOPER)
    session = log_in(user.email)
    assert session.get("/dashboard/developers").status_code == 200
    removed = membership(account, user)

    owner_client.post(f"/dashboard/members/{removed.pk}/remove")
    response = session.get("/dashboard/developers")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in session.session
    assert session.get("/dashboard/faxes").status_code == 302


def test_a_removed_member_of_two_accounts_keeps_only_the_other(
    owner_client: Client, account: Account, other_account: Account
) -> None:
    user = member(other_account, Role.VIEWER)
    Membership.objects.create(account=account, user=user, role=Role.DEVELOPER)
    session = log_in(user.email)
    session.post("/dashboard/switch", {"account": account.pk})
    assert session.get("/dashboard/developers").status_code == 200

    owner_client.post(f"/dashboard/members/{membership(account, user).pk}/remove")
    refused = session.post("/dashboard/developers/keys", {"name": "k", "scopes": ["faxes:read"]})

    assert refused.status_code == 302
    assert refused["Location"] == "/dashboard/"
    assert other_account.name in session.get("/dashboard/").content.decode()
    assert account.api_keys.count() == 0


# --- Several accounts ----------------------------------------------------------------------


def test_a_member_switches_between_accounts(account: Account, other_account: Account) -> None:
    user = member(account, Role.VIEWER)
    Membership.objects.create(account=other_account, user=user, role=Role.VIEWER)
    mine = FaxFactory(account=account, client_reference="fax-in-first")
    theirs = FaxFactory(account=other_account, client_reference="fax-in-second")
    client = log_in(user.email)

    before = client.get("/dashboard/faxes").content.decode()
    client.post("/dashboard/switch", {"account": other_account.pk})
    after = client.get("/dashboard/faxes").content.decode()

    assert mine.pk in before
    assert theirs.pk not in before
    assert theirs.pk in after
    assert mine.pk not in after
    assert 'id="account-switcher"' in after


def test_it_refuses_to_switch_to_an_account_that_is_not_yours(
    owner_client: Client, other_account: Account
) -> None:
    response = owner_client.post("/dashboard/switch", {"account": other_account.pk})

    assert response.status_code == 404


def test_staff_without_an_account_see_no_account_page() -> None:
    client = Client()
    client.force_login(UserFactory())

    assert "belongs to no customer account" in client.get("/dashboard/").content.decode()


def test_accounts_made_by_sign_up_have_an_owner_member() -> None:
    from accounts.services import account_create
    from tests.factories import plan

    account = account_create(email="new@example.com", password=PASSWORD, plan=plan("starter"))

    assert membership(account, account.owner).role == Role.OWNER


def test_require_two_factor_is_an_owner_setting(account: Account) -> None:
    admin = Client()
    admin.force_login(member(account, Role.ADMIN))

    assert admin.post("/dashboard/two-factor", {"required": "on"}).status_code == 403
    account.refresh_from_db()
    assert account.require_two_factor is False


# --- Audit log -----------------------------------------------------------------------------


def entry(action: str) -> AuditEntry:
    [found] = AuditEntry.objects.filter(action=action)
    return found


def test_an_invitation_and_its_acceptance_are_audited(
    owner_client: Client, account: Account
) -> None:
    link = invite(owner_client, "nurse@example.com", Role.SENDER)
    Client().post(link, {"password": "a-long-new-passphrase"})

    invited, joined = entry(AuditAction.MEMBER_INVITED), entry(AuditAction.MEMBER_JOINED)
    assert (invited.account_id, invited.actor_label, invited.target_label) == (
        account.pk,
        account.owner.email,
        "nurse@example.com",
    )
    assert invited.details == {"role": "sender"}
    assert (joined.account_id, joined.actor_label) == (account.pk, "nurse@example.com")
    assert link.split("/")[-2] not in str(invited.details) + invited.target_id


def test_a_role_change_and_a_removal_are_audited(owner_client: Client, account: Account) -> None:
    target = membership(account, member(account, Role.VIEWER, email="v@example.com"))

    owner_client.post(f"/dashboard/members/{target.pk}/role", {"role": Role.DEVELOPER})
    owner_client.post(f"/dashboard/members/{target.pk}/remove")

    changed, removed = entry(AuditAction.MEMBER_ROLE_CHANGED), entry(AuditAction.MEMBER_REMOVED)
    assert changed.details == {"from": "viewer", "to": "developer"}
    assert (removed.account_id, removed.actor_label, removed.target_label) == (
        account.pk,
        account.owner.email,
        "v@example.com",
    )
    assert removed.details == {"role": "developer", "left": False}


def test_leaving_is_audited_as_a_removal_by_oneself(account: Account) -> None:
    client = Client()
    client.force_login(member(account, Role.VIEWER, email="v@example.com"))

    client.post("/dashboard/leave")

    left = entry(AuditAction.MEMBER_REMOVED)
    assert (left.actor_label, left.details["left"]) == ("v@example.com", True)
