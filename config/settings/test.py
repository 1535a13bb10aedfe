"""Settings for pytest: fast hashing, in-memory email, eager Celery."""

from .base import *  # noqa: F403
from .base import DATABASES, env

SECRET_KEY = "test-secret-key-not-used-anywhere-else-0123456789abcdef"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["*"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# Serve static files from the app folders; no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The month so far syncs on commit of a change, at once (eager Celery, no delay).

BILLING_USAGE_SYNC_ON_CHANGE = env.bool("BILLING_USAGE_SYNC_ON_CHANGE", default=True)
BILLING_USAGE_SYNC_DELAY = 0
