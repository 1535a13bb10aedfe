"""Signals messaging sends for the apps above it (which may not be imported here).

``messages_changed``: sent inside the transaction that changed messages billing
derives from (a delivery status, an inbound message), with ``company_id`` and
``conversation_ids``. Receivers may write in that same transaction (billing
records which conversations its month so far must sync), so what they record
commits or rolls back with the change.
"""

from django.dispatch import Signal

messages_changed = Signal()
