"""Settings for the test suite: the production settings, fed a test environment.

The suite runs with DEBUG off, as production does, against PostgreSQL and Redis on 127.0.0.1
(`DATABASE_URL` and `REDIS_URL` override). HTTPS redirects are off because the test client speaks
plain HTTP; everything else keeps its production default.
"""

from __future__ import annotations

import os

from sendfaxmail.lib.crypto import generate_key

TEST_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "test-secret-key-not-for-production",
    "API_KEY_PEPPER": "test-pepper-not-for-production",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/sendfaxmail",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "SECURE_SSL_REDIRECT": "false",
    # A new key per run, never a committed one. Set in the environment, so that subprocesses
    # of the suite (manage.py in fresh interpreters) read documents with the same key.
    "DOCUMENT_ENCRYPTION_KEYS": generate_key(),
}
for _name, _value in TEST_ENV.items():
    os.environ.setdefault(_name, _value)
# A developer's .env (written by `make run`) must not change what the suite tests.
os.environ["SENDFAXMAIL_ENV_FILE"] = ""

from sendfaxmail.settings import *  # noqa: E402, F403
from sendfaxmail.settings import STORAGES, VAR_DIR  # noqa: E402

# Tests never need the hashed-name manifest that `collectstatic` builds.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "test-documents"
# WhiteNoise warns about a missing STATIC_ROOT on every request otherwise.
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Live-server threads must not keep connections open past a test (the test database is dropped).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
