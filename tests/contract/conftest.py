import pytest


@pytest.fixture(autouse=True)
def _provider_statuses_by_hand(settings):
    """Contract tests deliver messages themselves, at the instants the rule needs."""
    settings.WHATSAPP_SANDBOX_EMIT_STATUSES = False
