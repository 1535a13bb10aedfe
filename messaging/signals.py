"""Signals messaging sends for the apps above it (which may not be imported here).

``messages_changed``: sent inside the transaction that changed messages billing
derives from (a delivery status, an inbound message), with ``company_id`` and
``conversation_ids``, and, for delivery statuses, ``messages``: the
(conversation id, message id) pairs that changed, when nothing else of their
conversations did (an inbound message may change how its conversation's other
messages are charged: it is sent without ``messages``). Receivers may write in
that same transaction (billing records what its month so far must sync), so
what they record commits or rolls back with the change.
"""

from django.dispatch import Signal

messages_changed = Signal()
