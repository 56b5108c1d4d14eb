"""The cast every test file shares: accounts on each kind of plan, their users, and clients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import Account, User
from developers.models import ApiKey, Scope
from developers.services.api_keys import api_key_create
from faxes.models import Fax
from tests import factories

ALL_SCOPES = [Scope.FAXES_SEND, Scope.FAXES_READ, Scope.NUMBERS_READ]


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    """Each test starts with an empty Redis test database (rate-limit counters live there)."""
    from sendfaxmail.lib.redis import get_redis

    get_redis().flushdb()


@pytest.fixture
def account(db: None) -> Account:
    """An account on the Business plan (API included) with one fax number."""
    return factories.AccountFactory(plan_slug="business", with_number=True)


@pytest.fixture
def starter_account(db: None) -> Account:
    return factories.AccountFactory(plan_slug="starter", with_number=True)


@pytest.fixture
def other_account(db: None) -> Account:
    return factories.AccountFactory(plan_slug="business", with_number=True)


@pytest.fixture
def owner_client(account: Account) -> Client:
    """A browser session logged in as the owner of `account`."""
    client = Client()
    client.force_login(account.owner)
    return client


def verified_client(user: User, **client_kwargs: object) -> Client:
    """A browser session logged in as `user` with two-factor login passed: the user gets a
    confirmed authenticator, and the session is marked verified by it (as the code step does)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="Test app", confirmed=True)
    client = Client(**client_kwargs)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def make_key(
    account: Account, scopes: list[str] | None = None, **kwargs: object
) -> tuple[ApiKey, str]:
    """A key for `account` with `scopes` (all by default); returns the key and its secret."""
    return api_key_create(
        account=account,
        name="Test key",
        scopes=ALL_SCOPES if scopes is None else scopes,
        created_by=account.owner,
        **kwargs,
    )


class ApiClient(Client):
    """A test client that sends `Authorization: Bearer <secret>` and JSON bodies."""

    def __init__(self, secret: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.secret = secret

    def request(self, **request: object) -> object:
        if self.secret is not None:
            request.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.secret}")
        return super().request(**request)

    def post_json(self, path: str, data: object, **extra: object) -> object:
        return self.post(path, data=data, content_type="application/json", **extra)


@pytest.fixture
def api_key(account: Account) -> tuple[ApiKey, str]:
    """A live key with every scope on the Business `account`."""
    return make_key(account)


@pytest.fixture
def api_client(api_key: tuple[ApiKey, str]) -> ApiClient:
    return ApiClient(api_key[1])


CHROMIUM = "/usr/bin/chromium"


def log_in(page, base_url: str, account: Account) -> None:
    """Log in through the login form as the owner of `account`."""
    import re

    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", account.owner.email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard/$"))


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch):
    """A Playwright page in Debian's headless Chromium.

    Skips where Chromium is not installed, except under REQUIRE_BROWSER_TESTS=1 (CI), where a
    missing browser fails the test instead.
    """
    import os
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"browser test: {CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def telnyx(settings):
    """Telnyx configured as the carrier, its API answered by `responses`."""
    import responses

    from tests.telnyx import FakeTelnyx

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeTelnyx(mock)
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        yield fake


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list, dict]]:
    """Tasks sent by name (the pipeline's start, the simulator's steps), recorded instead of
    reaching the broker, so that tests run them in the order they choose."""
    sent: list[tuple[str, list, dict]] = []

    def record(
        name: str, args: list | None = None, kwargs: dict | None = None, **options: object
    ) -> None:
        sent.append((name, list(args or []), dict(kwargs or {})))

    monkeypatch.setattr(
        "celery.app.base.Celery.send_task", lambda self, name, *a, **k: record(name, *a, **k)
    )
    return sent


@pytest.fixture
def accepted_fax(api_client: ApiClient, pipeline: list) -> Callable[..., Fax]:
    """Send a fax through the API (a 3-page inline PDF by default) and return its row."""
    from faxes.models import Fax
    from tests import documents

    def send(to: str = "+15551234567", **body: object) -> Fax:
        body = {"to": to, "document": documents.inline_pdf(pages=3), **body}
        response = api_client.post_json("/v1/faxes", body)
        assert response.status_code == 201, response.content
        return Fax.objects.get(pk=response.json()["id"])

    return send


@pytest.fixture(scope="session")
def _receiver_server(tmp_path_factory: pytest.TempPathFactory):
    from tests.receiver import start_receiver

    yield from start_receiver(tmp_path_factory.mktemp("receiver-pki"))


@pytest.fixture
def receiver(_receiver_server, monkeypatch: pytest.MonkeyPatch, settings):
    """A customer's HTTPS webhook receiver at https://hooks.test:<port>/, reachable through
    the SSRF guard because its network is allowed, as an on-premises server would be."""
    from tests.receiver import allow

    _receiver_server.received.clear()
    _receiver_server.server.answers.clear()
    allow(_receiver_server, monkeypatch, settings)
    return _receiver_server


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory):
    """A SeaweedFS S3 server on loopback for the whole session (started on first use)."""
    from tests.s3 import start_seaweed

    yield from start_seaweed(tmp_path_factory.mktemp("seaweed"))


@pytest.fixture(scope="session")
def s3_bucket(seaweed) -> str:
    """A bucket on the SeaweedFS server, shared by the session's tests (each under its own
    key prefix: creating a bucket takes SeaweedFS most of a second)."""
    from tests.s3 import unused_bucket

    bucket = unused_bucket()
    seaweed.client().create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_backend(seaweed, s3_bucket: str) -> dict:
    """The S3Storage backend spec for a key prefix of this test's own in the shared bucket."""
    import secrets

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": seaweed.storage_options(s3_bucket, location=f"t{secrets.token_hex(6)}"),
    }


@pytest.fixture
def s3_storage(s3_backend: dict):
    """Encrypted document storage on S3 (SeaweedFS), with the suite's document key."""
    from sendfaxmail.lib.storage import EncryptedStorage

    return EncryptedStorage(inner=s3_backend)


@pytest.fixture(scope="session")
def _smtp_server():
    from tests.smtp import start_smtp

    yield from start_smtp()


@pytest.fixture
def smtp(_smtp_server, settings):
    """A real SMTP server on loopback that Django's mail goes to (as EMAIL_URL=smtp://… would
    configure); its `messages` are what it accepted."""
    port, mailbox = _smtp_server
    mailbox.messages.clear()
    mailbox.refusals.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return mailbox
