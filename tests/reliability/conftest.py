import logging

import pytest
from celery._state import _set_task_join_will_block


@pytest.fixture(autouse=True)
def _quiet_task_log():
    """Eager tasks log one INFO line each; the storm runs thousands. Keep `-s`
    output to the figures the tests print."""
    logger = logging.getLogger("celery.app.trace")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def _celery_join_flag_reset():
    """Celery's eager ``apply_async`` sets and restores a process-global "joining
    would block" flag around each task; eager tasks in several threads at once
    (the storm, the race) can leave it set, and every later ``result.get()`` in
    this process then raises "Never call result.get() within a task!". Reset it
    so no other test inherits it."""
    _set_task_join_will_block(False)
    yield
    _set_task_join_will_block(False)
