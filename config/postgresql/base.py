"""Django's PostgreSQL backend, checking a reused connection only when it sat idle.

With ``CONN_HEALTH_CHECKS`` Django runs ``SELECT 1`` before the first query of
every request (and of every Celery task) on a persistent connection: one round
trip per request, as costly as the one INSERT of a webhook POST. Here a
connection used less than ``DATABASE_HEALTH_CHECK_IDLE_SECONDS`` ago (1 s) is
taken as alive, as PgBouncer's ``server_check_delay`` does; one idle for longer
is checked as before. A connection that fails anyway (the server restarted
within that second) fails that one request, which Django answers as a database
error (the webhook's 503, so the provider retries) and then replaces it, since
a request with an error closes an unusable connection at its end.
"""

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._used_at = float("-inf")

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and time.monotonic() - self._used_at
            < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS
        ):
            self.health_check_done = True
        super().close_if_health_check_failed()
        self._used_at = time.monotonic()
