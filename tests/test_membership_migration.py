"""The data migration that turns the accounts of before into memberships."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0003_account_time_zone")]
AFTER = [("accounts", "0006_remove_user_account")]


@pytest.mark.django_db(transaction=True)
def test_owners_become_owner_members_and_other_users_developers() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("accounts", "User")
    Account = old.get_model("accounts", "Account")
    Plan = old.get_model("accounts", "Plan")
    owner = User.objects.create(email="owner@example.com", password="!")
    colleague = User.objects.create(email="colleague@example.com", password="!")
    staff = User.objects.create(email="staff@example.com", password="!", is_staff=True)
    # Earlier transactional tests may have flushed the seeded plans.
    plan, _ = Plan.objects.get_or_create(
        slug="starter", defaults={"name": "Starter", "monthly_price_cents": 1999}
    )
    account = Account.objects.create(name="Clinic", owner=owner, plan=plan)
    User.objects.filter(pk__in=[owner.pk, colleague.pk]).update(account=account)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    new = executor.loader.project_state(AFTER).apps
    Membership = new.get_model("accounts", "Membership")
    roles = dict(
        Membership.objects.filter(account_id=account.pk).values_list("user__email", "role")
    )
    assert roles == {"owner@example.com": "owner", "colleague@example.com": "developer"}
    assert not Membership.objects.filter(user_id=staff.pk).exists()


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema():
    """Later accounts migrations (after AFTER) are applied again, for the tests that follow."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
