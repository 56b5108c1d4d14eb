from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from developers.models import ApiKey
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_it_prints_a_working_key_alone_on_the_last_line(account: Account) -> None:
    out = StringIO()

    call_command(
        "create_api_key",
        account.owner.email,
        "--scopes",
        "numbers:read,faxes:read",
        "--name",
        "CI",
        stdout=out,
    )

    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("sfm_live_")
    assert ApiKey.objects.get(account=account).name == "CI"
    assert ApiClient(secret).get("/v1/numbers").status_code == 200


def test_it_refuses_an_unknown_scope(account: Account) -> None:
    with pytest.raises(CommandError, match="Unknown scope faxes:delete"):
        call_command(
            "create_api_key", account.owner.email, "--scopes", "faxes:delete", stdout=StringIO()
        )


def test_it_refuses_an_unknown_email() -> None:
    with pytest.raises(CommandError, match="No user"):
        call_command(
            "create_api_key", "nobody@example.com", "--scopes", "faxes:read", stdout=StringIO()
        )
