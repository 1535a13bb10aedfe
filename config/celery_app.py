"""Celery application; configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("wa_billing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_recycle(sender=None, **kwargs) -> None:
    """Around each task on a worker, what Django does around each request:
    close the connections that broke or outlived CONN_MAX_AGE, keep the others
    (CELERY_DB_REUSE_MAX stops Celery from closing every one, every task).
    Eager tasks run inside their caller's request or transaction: left alone."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
