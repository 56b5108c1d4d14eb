"""Settings for SendFaxMail, read from the environment (django-environ).

Every variable is listed with a comment in `.env.example`. The defaults are the embedded ones:
SQLite under `var/`, the database cache and a filesystem Celery broker, so a first run needs no
server. Production sets DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from sendfaxmail.lib.crypto import InvalidKeyError, keyring_from

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Variables already in the environment win over the file's. The test suite sets the name to
# "" so that a developer's .env never changes what it tests.
ENV_FILE = env.str("SENDFAXMAIL_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or .env); "
            "only DEBUG=true runs with a built-in development key."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"  # noqa: S105

# The pepper keys the HMAC that API keys are stored under. It is separate from SECRET_KEY so
# that rotating SECRET_KEY (sessions, CSRF) does not invalidate every customer's API key.
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="")
if not API_KEY_PEPPER:
    if not DEBUG:
        raise ImproperlyConfigured("API_KEY_PEPPER is not set; it is required when DEBUG is off.")
    API_KEY_PEPPER = "insecure-development-pepper"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin, on a site that demands two-factor login of staff (accounts/admin_site.py).
    "accounts.admin_config.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "sendfaxmail.lib.apps.LibConfig",
    # Two-factor login: authenticator apps (TOTP) and recovery codes (static tokens).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "audit",
    "accounts",
    "developers",
    "fax_numbers",
    "faxes",
    "axes",
]

MIDDLEWARE = [
    # First of all: it times every request, and labels it with the final status.
    "sendfaxmail.lib.metrics.RequestMetricsMiddleware",
    # Next, so that every answer (an early error, a redirect, a static file) has a Request-Id,
    # and every /v1 answer, whichever middleware made it, reaches the request log.
    "sendfaxmail.lib.middleware.RequestIdMiddleware",
    "developers.middleware.RequestLogMiddleware",
    # These two come next so that they see every answer, Django's own error pages included.
    "sendfaxmail.lib.middleware.NoStoreMiddleware",
    "sendfaxmail.lib.middleware.ApiAnswersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's and django-otp's session, user, second factor and messages, skipped for /v1
    # (sendfaxmail/lib/middleware.py): the API has no browser session.
    "sendfaxmail.lib.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "sendfaxmail.lib.middleware.AuthenticationMiddleware",
    "sendfaxmail.lib.sessions.SessionIdleTimeoutMiddleware",
    # request.user.is_verified(): whether this session gave a second-factor code.
    "sendfaxmail.lib.middleware.OTPMiddleware",
    "sendfaxmail.lib.middleware.MessageMiddleware",
    # The session's account and membership (re-checked every request), and the 2FA gate.
    "accounts.middleware.MembershipMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "developers.middleware.RateLimitHeadersMiddleware",
    # Last, as django-axes asks: it turns a locked-out login's answer into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sendfaxmail.urls"
WSGI_APPLICATION = "sendfaxmail.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.membership",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web and worker processes share the file: take the write lock when a transaction starts
    # and wait for it, rather than fail with "database is locked" when two writers meet.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that needs no round trip and prepared statements for
    # the queries every /v1 request runs (sendfaxmail/lib/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "sendfaxmail.lib.postgresql"
# Prepare the hot queries (auth, numbers) once per connection. Off behind PgBouncer < 1.21 in
# transaction mode, which cannot keep prepared statements.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Shared by the web and worker processes without a server (`createcachetable` makes it).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Axes' backend comes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
# Two-factor login (django-otp; accounts/two_factor.py). The issuer is the name authenticator
# apps show. Each wrong code doubles the wait before the device takes another (1 s, 2 s, ...).
OTP_TOTP_ISSUER = "SendFaxMail"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# Which account the audit log files a login, logout or failed login under (audit/signals.py).
AUDIT_ACCOUNT_OF_USER = "accounts.current.account_id_for_audit"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Customer documents are PHI. They are encrypted by us before they reach storage
# (sendfaxmail/lib/storage.py): on the filesystem under DOCUMENT_ROOT, which no URL serves, or in
# an S3 bucket when AWS_STORAGE_BUCKET_NAME is set (web and workers on different machines).
MEDIA_ROOT = env.path("DOCUMENT_ROOT", default=VAR_DIR / "documents")
# Only the app's own user may read them: files 0600, the folders they are written in 0700.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Key-encryption keys, comma-separated; the first encrypts, every one decrypts (rotation).
DOCUMENT_ENCRYPTION_KEYS = env.list("DOCUMENT_ENCRYPTION_KEYS", default=[])
if not DOCUMENT_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DOCUMENT_ENCRYPTION_KEYS is not set; it is required when DEBUG is off. "
            "Generate a key with `DEBUG=true python manage.py generate_document_key`."
        )
    DOCUMENT_ENCRYPTION_KEYS = ["ihUjDXnA6Bv1vVfF-d9A0slVULTflIdn18O33utFEfo="]  # development only
try:
    keyring_from(tuple(DOCUMENT_ENCRYPTION_KEYS))
except InvalidKeyError as error:
    raise ImproperlyConfigured(
        f"DOCUMENT_ENCRYPTION_KEYS: {error}; each key is 32 random bytes in URL-safe base64, "
        "as `manage.py generate_document_key` prints."
    ) from None

# django-storages' S3 backend, under its own setting names. Credentials may also come from the
# machine's role (leave the two keys unset). Objects get no ACL (the bucket's private policy
# applies), names never overwrite, and url() is refused anyway: nothing is served from S3.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_DEFAULT_ACL = None
AWS_S3_FILE_OVERWRITE = False
AWS_QUERYSTRING_AUTH = True
# S3-compatible stores (an endpoint URL) are addressed by path, AWS itself by host name.
AWS_S3_ADDRESSING_STYLE = "path" if AWS_S3_ENDPOINT_URL else None
AWS_S3_SIGNATURE_VERSION = "s3v4"
if AWS_STORAGE_BUCKET_NAME:
    from botocore.config import Config as _BotoConfig

    # Bounded waits: a stalled store must fail a request or task, not hang it.
    AWS_S3_CLIENT_CONFIG = _BotoConfig(
        s3={"addressing_style": AWS_S3_ADDRESSING_STYLE},
        signature_version=AWS_S3_SIGNATURE_VERSION,
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 4},
    )
    _DOCUMENT_BACKEND = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _DOCUMENT_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage"}

STORAGES = {
    "default": {
        "BACKEND": "sendfaxmail.lib.storage.EncryptedStorage",
        "OPTIONS": {"inner": _DOCUMENT_BACKEND},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Password-reset mail and fax-to-email: printed to the console unless EMAIL_URL names a server
# (smtp+tls://user:password@smtp.example.com:587).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SendFaxMail <no-reply@localhost>")

# Login throttling (django-axes, on /accounts/login/ and /admin/login/; accounts/lockout.py).
# An (email, IP address) pair is locked out after 10 failures, an IP address alone after 100
# (one clinic behind one NAT address shares it), until 15 minutes pass without a failure.
# The database handler, not the cache one: it counts under a row lock (the cache handler's
# add-then-incr loses counts and TTLs in races, the reason django-ratelimit is not used either),
# and it can clear every record of one email (`unlock_login`), where the cache handler's keys
# are hashes of email + IP. Its table is pruned on every login attempt.
LOGIN_FAILURE_LIMIT = 10
LOGIN_IP_FAILURE_LIMIT = 100
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = "accounts.lockout.failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=15)
# Django's login forms (ours and the admin's) post the email as `username`.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.client_username"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# A success must not clear failures: axes would clear the IP's too, so logging in to one's own
# account every 99 guesses would lift the IP limit.
AXES_RESET_ON_SUCCESS = False
# No row per successful login kept forever; failures are what throttling needs.
AXES_DISABLE_ACCESS_LOG = True
# Proxies in front of the app that append to X-Forwarded-For; 0 reads the client address from
# the connection (REMOTE_ADDR). Behind one proxy that is the proxy's address: set this, or every
# client shares one address and 100 failures anywhere lock out everyone.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Keep the `Request-Id` a request arrives with instead of making one (lib/request_id.py). Only
# behind a proxy that sets or replaces that header: otherwise any client could name its request
# after another. Separate from TRUSTED_PROXY_COUNT, since a proxy that appends to
# X-Forwarded-For may still pass a client's Request-Id through untouched.
TRUST_REQUEST_ID_HEADER = env.bool("TRUST_REQUEST_ID_HEADER", default=False)

# HTTPS-only settings: on whenever DEBUG is off, each switchable by a variable of the same name
# for plain HTTP behind a TLS-terminating proxy or on localhost.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
# Automatic logoff (HIPAA 164.312(a)(2)(iii)): a session ends after this many seconds without a
# request; SessionIdleTimeoutMiddleware pushes its expiry forward (sendfaxmail/lib/sessions.py).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
# Answers under these paths show faxes, keys or webhook secrets: `Cache-Control: no-store`.
NO_STORE_PATH_PREFIXES = ["/v1", "/dashboard/"]
X_FRAME_OPTIONS = "DENY"

# 20 MB of document is ~26.7 MB of base64; leave room for the JSON around it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 28 * 1024 * 1024
# Telnyx takes media up to 20 MB (decimal); so do we.
MAX_DOCUMENT_BYTES = 20 * 1000 * 1000

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["developers.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "developers.permissions.HasApiAccess",
        "developers.permissions.HasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["developers.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["sendfaxmail.lib.api.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["sendfaxmail.lib.api.LimitedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "sendfaxmail.lib.api.JSONOnlyNegotiation",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "EXCEPTION_HANDLER": "sendfaxmail.lib.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_VERSIONING_CLASS": None,
}
API_SEND_RATE = env.str("API_SEND_RATE", default="60/m")
API_READ_RATE = env.str("API_READ_RATE", default="600/m")
# Document downloads of one account (API and dashboard together): each stamps the header line.
DOCUMENT_DOWNLOAD_RATE = env.str("DOCUMENT_DOWNLOAD_RATE", default="60/m")
# Emails the public pages send (sign-up links, password resets): per recipient address, and per
# client address (all recipients together). Past either the page answers 429 and mails nothing.
ACCOUNT_EMAIL_RATE = env.str("ACCOUNT_EMAIL_RATE", default="3/h")
ACCOUNT_EMAIL_CLIENT_RATE = env.str("ACCOUNT_EMAIL_CLIENT_RATE", default="20/h")
# All of an account's keys together (per world, live or test) get this many times one key's budget.
API_ACCOUNT_RATE_MULTIPLIER = env.int("API_ACCOUNT_RATE_MULTIPLIER", default=3)
# A /v1 request still running after this many seconds is stopped and answered 503 `timeout`.
# Keep it below gunicorn's `timeout` (60 s in gunicorn.conf.py), which kills the worker instead.
API_REQUEST_TIMEOUT = env.float("API_REQUEST_TIMEOUT", default=50.0)
# The request log (Developers → Logs): every authenticated /v1 request is recorded. `false`
# records nothing (bench/auth.py measures the log's cost this way).
REQUEST_LOG_ENABLED = env.bool("REQUEST_LOG_ENABLED", default=True)

SPECTACULAR_SETTINGS = {
    "TITLE": "SendFaxMail Fax API",
    "DESCRIPTION": (
        "Send faxes and track them over REST. Authenticate with `Authorization: Bearer sfm_live_…`."
        "\n\n## A fax's lifecycle\n\n"
        "A sent fax moves only forward through these statuses (`status` on the fax); "
        "`delivered`, `failed` and `canceled` are final. A received fax is `receiving`, then "
        "`received` or `failed`.\n\n"
        "```\n"
        "  POST /v1/faxes                POST /v1/faxes with send_at\n"
        "        |                                 |\n"
        "        |                                 v\n"
        "        |                             scheduled --- cancel (200) ----------> canceled\n"
        "        |                                 | send_at has come (within ~5 s)\n"
        "        v                                 v\n"
        "      queued <----------------------------+\n"
        "        | ^  +-- cancel (200) ---------------------------------------------> canceled\n"
        "        | +----- redial: busy / no_answer / transmission_error with calls left\n"
        "        |        (queued until next_attempt_at; fax.retry_scheduled)\n"
        "        v\n"
        "     sending ---> delivered\n"
        "        |  +----> failed   (the last call's failure_reason)\n"
        "        |  +----> canceled (cancel accepted by the carrier: 202 meanwhile)\n"
        "  scheduled / queued ---> failed (document_url not fetched, bad document, refused)\n"
        "```\n\n"
        "`POST /v1/faxes/{fax_id}/resend` starts a new fax (`resent_from`) at the top of this "
        "diagram with the same stored document. Test keys (`sfm_test_…`) run every path "
        "through the simulator; the destination number chooses the outcome (see the README)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The fax carrier. Without a Telnyx key the built-in simulator stands in.
TELNYX_API_KEY = env.str("TELNYX_API_KEY", default="")
FAX_CARRIER = env.str("FAX_CARRIER", default="telnyx" if TELNYX_API_KEY else "simulator")
if FAX_CARRIER not in ("telnyx", "simulator"):
    raise ImproperlyConfigured("FAX_CARRIER must be 'telnyx' or 'simulator'.")
TELNYX_API_BASE = env.str("TELNYX_API_BASE", default="https://api.telnyx.com/v2").rstrip("/")
TELNYX_CONNECTION_ID = env.str("TELNYX_CONNECTION_ID", default="")
TELNYX_PUBLIC_KEY = env.str("TELNYX_PUBLIC_KEY", default="")
if FAX_CARRIER == "telnyx":
    _missing = [
        name
        for name in ("TELNYX_API_KEY", "TELNYX_CONNECTION_ID", "TELNYX_PUBLIC_KEY")
        if not globals()[name]
    ]
    if _missing:
        raise ImproperlyConfigured(f"FAX_CARRIER=telnyx needs {', '.join(_missing)}.")

# Outbound HTTP to customer URLs (document fetches, webhook deliveries) goes through the SSRF
# guard in sendfaxmail/lib/fetch.py. These networks are reachable although private.
FETCH_ALLOWED_NETWORKS = env.list("FETCH_ALLOWED_NETWORKS", default=[])
FETCH_CA_BUNDLE = env.str("FETCH_CA_BUNDLE", default="")
# Only tests move this: customer URLs must use port 443.
FETCH_ALLOWED_PORTS = [443]

# Celery: Redis when configured, otherwise a filesystem broker under var/ that the web and
# worker processes share without any server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery"
    for _folder in ("queue", "processed", "control"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        # The exchanges' bindings; kombu's default is `control/` in the working directory.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes every database connection before and after each task unless this is set; with
# it, it closes them every 2 × this many tasks, and sendfaxmail/celery.py applies CONN_MAX_AGE
# and the health check around each task instead, as Django does around each request.
CELERY_DB_REUSE_MAX = 1000
# A hard limit for every task; tasks that need a soft one (to clean up) set their own.
CELERY_TASK_TIME_LIMIT = 120
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues keep slow work from starving fast work: document fetches wait on customers' servers,
# carrier submissions on Telnyx, and neither may delay carrier events or customer webhooks.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "faxes.tasks.fax_fetch_task": {"queue": "fetch"},
    "faxes.tasks.inbound_media_fetch_task": {"queue": "fetch"},
    "faxes.tasks.fax_submit_task": {"queue": "carrier"},
    "faxes.tasks.simulator_step_task": {"queue": "events"},
    "faxes.tasks.simulator_cancel_task": {"queue": "events"},
    "developers.tasks.*": {"queue": "webhooks"},
}
CELERY_BEAT_SCHEDULE = {
    "faxes-sweep": {"task": "faxes.tasks.faxes_sweep_task", "schedule": 60.0},
    # Scheduled faxes leave within about 5 s of their `send_at` (faxes.tasks.RELEASE_PERIOD).
    "faxes-release-scheduled": {
        "task": "faxes.tasks.faxes_release_scheduled_task",
        "schedule": 5.0,
    },
    # Documents past their account's retention (0 days: within a minute of the fax finishing).
    "documents-purge": {"task": "faxes.tasks.documents_purge_task", "schedule": 60.0},
    "idempotency-keys-purge": {
        "task": "faxes.tasks.idempotency_keys_purge_task",
        "schedule": 3600.0,
    },
    "webhook-deliveries": {
        "task": "developers.tasks.webhook_deliveries_dispatch_task",
        "schedule": 5.0,
    },
    "request-log-flush": {"task": "developers.tasks.request_log_flush_task", "schedule": 5.0},
    "request-log-purge": {
        "task": "developers.tasks.request_log_purge_task",
        "schedule": 3600.0,
    },
}

# `plain` (default) or `json`: one JSON object a line. Every line carries the request id (or `-`).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "sendfaxmail.lib.logs.RequestIdFilter"},
        # runserver's request log (`make run`) without query strings: `?to=` filters are PHI.
        "no_query_strings": {"()": "sendfaxmail.lib.accesslog.QueryFreeRequestLines"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"
        },
        "json": {"()": "sendfaxmail.lib.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {
            "handlers": ["console"],
            "filters": ["no_query_strings"],
            "level": "INFO",
            "propagate": False,
        },
    },
}

# GET /metrics (Prometheus text format) answers only `Authorization: Bearer <METRICS_TOKEN>`; unset,
# the route answers 404. Worker processes' metrics are included when every process shares
# PROMETHEUS_MULTIPROC_DIR (read by prometheus-client from the environment; README, "Metrics").
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
