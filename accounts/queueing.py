"""Hand work to the Celery broker without failing what asked for it.

A request (or a task) that has committed its facts must answer its success even
when the broker is down: the work it enqueues is derived from those facts, and
a sweep on the beat enqueues it again until it is done (``deliveries_retry`` for
webhook processing, ``sandbox_statuses_retry`` for sandbox statuses,
``idle_license_notice_emails_retry`` for idle-license emails). A failure to
enqueue is therefore logged at WARNING and never raised.
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What publishing raises when the broker cannot be reached (kombu wraps most
# connection errors; the others are what it lets through).
BROKER_ERRORS = (
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


def enqueue(task, *args) -> bool:
    """``task.delay(*args)``; False (and a WARNING) when the broker is down."""
    try:
        task.delay(*args)
    except BROKER_ERRORS as exc:
        logger.warning(
            "Task %s not enqueued, the broker is unavailable (%s); its sweep "
            "enqueues it again once the broker is back",
            task.name,
            type(exc).__name__,
        )
        return False
    return True


def enqueue_on_commit(task, *args) -> None:
    """Enqueue ``task`` once the current transaction commits (see ``enqueue``)."""
    transaction.on_commit(lambda: enqueue(task, *args))
