from __future__ import annotations

import re

import pytest
from django.db import connection

from accounts.models import Account
from developers import keys
from developers.models import ApiKey
from tests.conftest import make_key

pytestmark = pytest.mark.django_db


def test_it_generates_live_keys_with_40_random_characters_and_a_checksum() -> None:
    secret = keys.generate()

    assert re.fullmatch(r"sfm_live_[A-Za-z0-9]{46}", secret)
    assert keys.is_well_formed(secret)


def test_it_never_generates_the_same_key_twice() -> None:
    assert len({keys.generate() for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("a" if s[-1] != "a" else "b"),  # checksum typo
        lambda s: s[:20] + ("x" if s[20] != "x" else "y") + s[21:],  # body typo
        lambda s: s[:-3],  # truncated
        lambda s: s + "0",  # too long
        lambda s: s.replace("sfm_live_", "sfm_prod_"),
        lambda s: s.replace("sfm_live_", ""),
    ],
)
def test_it_refuses_a_mistyped_key_without_a_query(mangle, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert not keys.is_well_formed(mangle(keys.generate()))


def test_only_the_digest_and_a_short_prefix_are_stored(account: Account) -> None:
    api_key, secret = make_key(account)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM developers_apikey WHERE id = %s", [api_key.pk])
        row = cursor.fetchone()
    stored = " ".join(str(value) for value in row)
    assert secret not in stored
    assert secret[9:] not in stored
    assert secret[9:25] not in stored  # not even a good part of the random body
    assert api_key.digest == keys.digest(secret)
    assert api_key.prefix == secret[:13]


def test_the_digest_depends_on_the_pepper(settings, account: Account) -> None:
    secret = keys.generate()
    before = keys.digest(secret)

    settings.API_KEY_PEPPER = "another-pepper"

    assert keys.digest(secret) != before


def test_rotating_secret_key_keeps_keys_working(settings, account: Account) -> None:
    api_key, secret = make_key(account)

    settings.SECRET_KEY = "a-brand-new-secret-key-" * 3

    assert ApiKey.objects.get(digest=keys.digest(secret)) == api_key
