"""Memberships for the accounts that existed before them: each account's owner becomes an owner
member, and every other user whose `account` pointed at it a developer (what members could do
until now: keys, webhooks and the fax log)."""

from django.db import migrations


def create_memberships(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    User = apps.get_model("accounts", "User")
    Membership = apps.get_model("accounts", "Membership")
    rows = [
        Membership(account_id=account_id, user_id=owner_id, role="owner")
        for account_id, owner_id in Account.objects.values_list("id", "owner_id")
    ]
    owners = {(row.account_id, row.user_id) for row in rows}
    rows += [
        Membership(account_id=account_id, user_id=user_id, role="developer")
        for user_id, account_id in User.objects.filter(account__isnull=False).values_list(
            "id", "account_id"
        )
        if (account_id, user_id) not in owners
    ]
    Membership.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def restore_user_accounts(apps, schema_editor):
    """Backwards: each user points at the oldest account they are a member of."""
    User = apps.get_model("accounts", "User")
    Membership = apps.get_model("accounts", "Membership")
    for membership in Membership.objects.order_by("-created_at", "-id"):
        User.objects.filter(pk=membership.user_id).update(account_id=membership.account_id)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_memberships_invitations_require_two_factor"),
    ]

    operations = [migrations.RunPython(create_memberships, restore_user_accounts)]
