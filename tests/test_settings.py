"""Settings are checked in fresh interpreters, as a deployment would start them."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sendfaxmail.lib.crypto import generate_key
from tests.settings import TEST_ENV

ROOT = Path(__file__).resolve().parent.parent
# What production needs besides DEBUG=false; each test leaves out or changes what it is about.
SECRETS = {"SECRET_KEY": "s" * 60, "API_KEY_PEPPER": "p" * 40}


def start(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # Drop what tests/settings.py put in this process's environment for the suite.
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ENV or k.endswith("_URL")}
    clean["DJANGO_SETTINGS_MODULE"] = "sendfaxmail.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_refuses_to_start_without_secret_key_when_debug_is_off() -> None:
    result = start(
        {"DEBUG": "false", "API_KEY_PEPPER": "p" * 40, "DOCUMENT_ENCRYPTION_KEYS": generate_key()},
        "check",
    )

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_refuses_to_start_without_api_key_pepper_when_debug_is_off() -> None:
    result = start(
        {"DEBUG": "false", "SECRET_KEY": "s" * 60, "DOCUMENT_ENCRYPTION_KEYS": generate_key()},
        "check",
    )

    assert result.returncode != 0
    assert "API_KEY_PEPPER is not set" in result.stderr


def test_it_refuses_to_start_without_document_encryption_keys_when_debug_is_off() -> None:
    result = start({"DEBUG": "false", **SECRETS}, "check")

    assert result.returncode != 0
    assert "DOCUMENT_ENCRYPTION_KEYS is not set" in result.stderr


@pytest.mark.parametrize(
    "keys", ["not-a-key", generate_key()[:20], f"{generate_key()},tooshort", "c2hvcnQ="]
)
def test_a_malformed_document_key_is_a_clear_start_up_error(keys: str) -> None:
    result = start({"DEBUG": "false", **SECRETS, "DOCUMENT_ENCRYPTION_KEYS": keys}, "check")

    assert result.returncode != 0
    assert "DOCUMENT_ENCRYPTION_KEYS: a key" in result.stderr
    assert "generate_document_key" in result.stderr


def test_several_document_keys_are_accepted() -> None:
    keys = f"{generate_key()}, {generate_key()}"

    result = start({"DEBUG": "false", **SECRETS, "DOCUMENT_ENCRYPTION_KEYS": keys}, "check")

    assert result.returncode == 0, result.stderr


def test_the_env_file_that_make_run_writes_lets_manage_py_run_as_is(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    subprocess.run([sys.executable, "scripts/dev_env.py", str(env_file)], cwd=ROOT, check=True)
    written = env_file.read_text()

    result = start(
        {"SENDFAXMAIL_ENV_FILE": str(env_file)},
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.DOCUMENT_ENCRYPTION_KEYS[0])",
    )

    assert result.returncode == 0, result.stderr
    debug, key = result.stdout.split()
    assert debug == "True"
    assert f"DOCUMENT_ENCRYPTION_KEYS={key}\n" in written
    assert env_file.stat().st_mode & 0o077 == 0


def test_it_starts_without_secrets_in_debug() -> None:
    result = start({"DEBUG": "true"}, "check")

    assert result.returncode == 0, result.stderr


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 30 + "Zq8#x" * 10,
    "API_KEY_PEPPER": "pepper-" + "Zq8#x" * 8,
    "DOCUMENT_ENCRYPTION_KEYS": generate_key(),
    "ALLOWED_HOSTS": "fax.example.com",
    "PUBLIC_BASE_URL": "https://fax.example.com",
    "FAX_CARRIER": "telnyx",
    "TELNYX_API_KEY": "KEY_not_real",
    "TELNYX_CONNECTION_ID": "conn-1",
    "TELNYX_PUBLIC_KEY": base64.b64encode(bytes(range(32))).decode(),
}


def test_the_deploy_check_passes_with_the_documented_production_settings() -> None:
    result = start(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_check_fails_on_a_one_character_pepper() -> None:
    result = start({**PRODUCTION, "API_KEY_PEPPER": "x"}, "check", "--deploy")

    assert result.returncode != 0
    assert "sendfaxmail.E001" in result.stderr


def test_session_idle_timeout_sets_the_session_lifetime() -> None:
    code = "from django.conf import settings as s; print(s.SESSION_COOKIE_AGE)"

    default = start({"DEBUG": "true"}, "shell", "--no-imports", "-c", code)
    ten_minutes = start(
        {"DEBUG": "true", "SESSION_IDLE_TIMEOUT": "600"}, "shell", "--no-imports", "-c", code
    )

    assert default.stdout.split() == ["1800"]
    assert ten_minutes.stdout.split() == ["600"]


def test_https_settings_are_on_when_debug_is_off_and_each_can_be_turned_off() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS)"
    )
    base = {"DEBUG": "false", **SECRETS, "DOCUMENT_ENCRYPTION_KEYS": generate_key()}

    on = start(base, "shell", "--no-imports", "-c", code)
    off = start(
        {**base, "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0"},
        "shell",
        "--no-imports",
        "-c",
        code,
    )

    assert on.stdout.split() == ["True", "True", "True", "31536000"]
    assert off.stdout.split() == ["False", "True", "True", "0"]


def test_argon2_is_the_first_password_hasher() -> None:
    result = start(
        {"DEBUG": "true"},
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.PASSWORD_HASHERS[0])",
    )

    assert result.stdout.strip() == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_every_environment_variable_is_documented_in_env_example() -> None:
    import re

    settings_text = (ROOT / "sendfaxmail" / "settings.py").read_text()
    example = (ROOT / ".env.example").read_text()
    read = set(re.findall(r'env\.[a-z_]+\("([A-Z_]+)"', settings_text))
    documented = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))

    assert read - documented == set()
    assert len(read) > 20


def test_telnyx_as_carrier_without_its_settings_is_a_start_up_error() -> None:
    result = start({"DEBUG": "true", "FAX_CARRIER": "telnyx", "TELNYX_API_KEY": ""}, "check")

    assert result.returncode != 0
    assert "FAX_CARRIER=telnyx needs" in result.stderr
    assert "TELNYX_PUBLIC_KEY" in result.stderr
