"""Complete, environment-driven settings.

With no environment at all this runs the embedded demo: a SQLite file and Celery
in eager mode. ``DATABASE_URL`` switches to PostgreSQL, ``REDIS_URL`` to a Redis
broker with real workers and beat.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="django-insecure-demo-only-key-never-use-in-production-0123456789",
)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "axes",
    "csp",
    "accounts",
    "licensing",
    "messaging",
    "billing",
    # The composition app above the four (README "Layering"); after them, so its
    # admin replaces the accounts' own.
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user's chosen language (User.language) over the browser's.
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: locks out repeated failed logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the writer lock instead of failing at once (demo server + eager tasks).
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    # Django's backend, with the health check of a connection used within the
    # last DATABASE_HEALTH_CHECK_IDLE_SECONDS left out (config/postgresql/).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env.float(
    "DJANGO_CONN_HEALTH_CHECK_IDLE", default=1.0
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: 5 failures for one account, from any number of addresses, lock
# logins to it for 15 min. Counted per account, not per (account, address) pair, so
# rotating addresses buys no extra tries. axes applies one limit to every entry of
# AXES_LOCKOUT_PARAMETERS (the highest count wins), so the (account, address) pair
# never locks before the account does; it stays listed because axes' system check
# (axes.W006) wants an entry with the address.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", ["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="billing@localhost")
# Where the file backend (django.core.mail.backends.filebased.EmailBackend, used
# by `make demo`) writes each email, as a .log file per connection.
EMAIL_FILE_PATH = env(
    "DJANGO_EMAIL_FILE_PATH", default=str(BASE_DIR / "tmp" / "emails")
)

# --- Content-Security-Policy (django-csp) -----------------------------------
# Only this site's own files: no inline script, event handler or style attribute
# (page behaviour is in static/js, looks in static/css). The one computed style,
# the budget bar's width, comes in a <style> carrying the response's nonce.
# Bootstrap's icons are data: SVG images. The PDF invoice is rendered by
# WeasyPrint on the server and is not subject to it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Celery ---------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
# A task is acknowledged only after it ran, so a killed worker's task is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each
# task unless this is set (a reconnection per task, ~5 ms): workers keep their
# connections like the web does, by CONN_MAX_AGE, CONN_HEALTH_CHECKS and
# errors (config/celery_app.py applies Django's own rules around each task).
CELERY_DB_REUSE_MAX = 10**9
# Publishing fails fast when the broker is down (a request must not hang on it):
# a short connect timeout and two quick retries. What could not be enqueued is
# enqueued again by the sweeps below (accounts/queueing.py).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BEAT_SCHEDULE = {
    # Every hour at :15, every day: compute the draft of every company month that
    # has ended in the company's billing time zone (UTC-12 … UTC+14) and has no
    # invoice yet, so a missed run is caught up by the next one. Two queries and
    # nothing enqueued when every ended month is invoiced.
    "compute-monthly-invoices": {
        "task": "billing.tasks.billing_month_run_task",
        "schedule": crontab(minute=15, hour="*"),
    },
    # Every 5 minutes: process again webhook deliveries whose processing failed or
    # whose task was lost (stored deliveries are never dropped).
    "retry-webhook-deliveries": {
        "task": "messaging.tasks.deliveries_retry_task",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 minutes: emit the sandbox statuses of messages sent while the broker
    # was down (nothing to do unless WHATSAPP_TRANSPORT is the sandbox).
    "retry-sandbox-statuses": {
        "task": "messaging.tasks.sandbox_statuses_retry_task",
        "schedule": crontab(minute="*/5"),
    },
    # Every day at 03:30 UTC: finalize drafts whose grace period has passed.
    "finalize-due-invoices": {
        "task": "billing.tasks.invoices_finalize_due_task",
        "schedule": crontab(minute=30, hour=3),
    },
    # Mondays at 07:00 UTC: email each company's admins the licenses nobody used to
    # send for 30 days and what revoking them saves (once per company per ISO week).
    "email-idle-licenses": {
        "task": "licensing.tasks.idle_license_notices_task",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
    },
    # Hourly at :40: email again idle-license notices recorded but not emailed
    # (the broker or the mail server was down).
    "retry-idle-license-emails": {
        "task": "licensing.tasks.idle_license_notice_emails_retry_task",
        "schedule": crontab(minute=40),
    },
    # Every 10 minutes: email again the invoices and credit notes whose email
    # failed (up to 5 tries) or whose task was lost while the broker was down.
    "retry-document-emails": {
        "task": "billing.tasks.document_emails_retry_task",
        "schedule": crontab(minute="*/10"),
    },
    # Every 30 minutes (at :00 and :30): email company admins whose month so far has
    # crossed 50, 80 or 100 % of their monthly budget (once per threshold and month).
    "check-spend-alerts": {
        "task": "billing.tasks.spend_alerts_run_task",
        "schedule": crontab(minute="*/30"),
    },
    # Every 2 minutes: sync the month so far of every company with changes waiting
    # (their on-commit sync was lost) or a stale one (after a billing run).
    "sync-months-so-far": {
        "task": "billing.tasks.usage_sync_run_task",
        "schedule": crontab(minute="*/2"),
    },
}
# Drafts wait this long after their month ends, so late webhooks still land on them.
BILLING_FINALIZE_GRACE_DAYS = env.int("BILLING_FINALIZE_GRACE_DAYS", default=3)
# The issuer on invoices until Customer Success saves the admin's issuer record (F7).
BILLING_ISSUER = {
    "legal_name": env(
        "BILLING_ISSUER_LEGAL_NAME", default="WhatsApp Add-on Billing S.L."
    ),
    "address": env(
        "BILLING_ISSUER_ADDRESS",
        default="Calle de Alcalá 21, 3º\n28014 Madrid\nEspaña",
    ).replace("\\n", "\n"),
    "tax_id": env("BILLING_ISSUER_TAX_ID", default="ESB12345674"),
    "email": env("BILLING_ISSUER_EMAIL", default="billing@localhost"),
    "payment_details": env(
        "BILLING_ISSUER_PAYMENT_DETAILS",
        default="IBAN ES91 2100 0418 4502 0005 1332 · BIC CAIXESBBXXX",
    ),
    "payment_terms_days": env.int("BILLING_ISSUER_PAYMENT_TERMS_DAYS", default=30),
}
# Uploaded files (the issuer's logo); served by billing's logo view, not by URL.
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"

# --- Cache ----------------------------------------------------------------


def redis_cache(url: str) -> dict:
    """The cache on Redis, never failing a request: with Redis down every read
    is a miss and every write is dropped (logged), within half a second."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }


DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "django_redis"
if REDIS_URL:
    CACHES = redis_cache(REDIS_URL)
    # Sessions read from Redis, written through to PostgreSQL (survive a flush);
    # with Redis down they are read from and written to PostgreSQL alone.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Tables, API ----------------------------------------------------------
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp add-on API",
    "DESCRIPTION": (
        "Send WhatsApp messages and read conversations of your company; company "
        "admins also read invoices, credit notes and the month so far."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # A message's status and an invoice's are both "status".
    "ENUM_NAME_OVERRIDES": {"InvoiceStatusEnum": "billing.models.Invoice.Status"},
}

# --- Logging: no personal data or secrets; request bodies are never logged. --
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # django-axes logs every login at INFO; keep only its warnings (lockouts).
    # WeasyPrint and fontTools log every step of every PDF (emails attach one).
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- WhatsApp Cloud API ---------------------------------------------------
# Webhook: HMAC key for X-Hub-Signature-256 and the verify token of the handshake.
WHATSAPP_APP_SECRET = env("WHATSAPP_APP_SECRET", default="demo-app-secret")
WHATSAPP_VERIFY_TOKEN = env("WHATSAPP_VERIFY_TOKEN", default="demo-verify-token")
# Meta sends at most 1000 updates and 3 MB per POST.
WHATSAPP_WEBHOOK_MAX_BYTES = env.int(
    "WHATSAPP_WEBHOOK_MAX_BYTES", default=3 * 1024 * 1024
)
DATA_UPLOAD_MAX_MEMORY_SIZE = WHATSAPP_WEBHOOK_MAX_BYTES
# A stored delivery whose processing failed is retried by the beat (every 5 min)
# this many times in all; then it is a dead letter, listed in the admin.
WHATSAPP_WEBHOOK_MAX_ATTEMPTS = env.int("WHATSAPP_WEBHOOK_MAX_ATTEMPTS", default=20)
# On PostgreSQL with the Redis cache a worker processes the deliveries waiting
# together: up to this many per transaction; after a batch that was not full it
# waits this long for the next to fill; it stops after this long without any
# delivery, or after this long in all (then a fresh task goes on).
WHATSAPP_WEBHOOK_BATCH_SIZE = env.int("WHATSAPP_WEBHOOK_BATCH_SIZE", default=100)
WHATSAPP_WEBHOOK_POLL_SECONDS = env.float("WHATSAPP_WEBHOOK_POLL_SECONDS", default=0.1)
WHATSAPP_WEBHOOK_DRAIN_IDLE_SECONDS = env.float(
    "WHATSAPP_WEBHOOK_DRAIN_IDLE_SECONDS", default=0.5
)
WHATSAPP_WEBHOOK_DRAIN_SECONDS = env.float(
    "WHATSAPP_WEBHOOK_DRAIN_SECONDS", default=10.0
)
# A web process that found the wake-up flag up takes it as up for this long
# without asking Redis again (one round trip per process and period instead of
# one per POST); a worker lowering the flag waits this long before its last
# claim, so what those POSTs stored is taken. Web and workers must agree on it.
WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS = env.float(
    "WHATSAPP_WEBHOOK_WAKE_MEMO_SECONDS", default=0.2
)
# Sending: "sandbox" (no network; emits realistic statuses) or "cloud_api".
WHATSAPP_TRANSPORT = env("WHATSAPP_TRANSPORT", default="sandbox")
WHATSAPP_API_BASE_URL = env(
    "WHATSAPP_API_BASE_URL", default="https://graph.facebook.com"
)
WHATSAPP_API_VERSION = env("WHATSAPP_API_VERSION", default="v23.0")
WHATSAPP_ACCESS_TOKEN = env("WHATSAPP_ACCESS_TOKEN", default="")
WHATSAPP_API_TIMEOUT = env.float("WHATSAPP_API_TIMEOUT", default=10.0)
# Sandbox: emit sent/delivered/read statuses for each accepted message.
WHATSAPP_SANDBOX_EMIT_STATUSES = env.bool(
    "WHATSAPP_SANDBOX_EMIT_STATUSES", default=True
)

# The month so far (billing/services/usage.py): sync a company's month so far
# after a change commits (a delivery status, an inbound message), at most once
# per BILLING_USAGE_SYNC_DELAY seconds; the beat syncs what is left.
BILLING_USAGE_SYNC_ON_CHANGE = env.bool("BILLING_USAGE_SYNC_ON_CHANGE", default=True)
BILLING_USAGE_SYNC_DELAY = env.int("BILLING_USAGE_SYNC_DELAY", default=5)
