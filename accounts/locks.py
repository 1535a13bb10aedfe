"""Row locks shared by the apps (Saleor's lock_objects): one place, one order.

Lock order everywhere: company, then invoice, then sequence rows. Every lock is
FOR NO KEY UPDATE: it serialises writers of the row but not the FOR KEY SHARE
locks that foreign-key checks take (a new charge or contact referencing the
company), which would otherwise deadlock with webhook processing.

Where the locks live: the company's here; messaging's in ``messaging/locks.py``
(``delivery_lock``, ``conversation_lock``, ``messages_lock``), since accounts may
not import messaging models (tests/test_layering.py); billing's (invoice, document
sequence, rate card, charge policy) in ``billing/locks.py`` and licensing's
(license request, idle license notice) in ``licensing/locks.py``, each with the
app's place in the order.

Messaging's order, in one transaction: the webhook delivery, then conversations,
then messages. ``delivery_process`` holds its delivery throughout and, for each
change of the payload in turn, updates the conversations its inbound messages
refresh (by primary key) and then locks the messages its statuses report on (by
primary key); so a later change's conversations come after an earlier change's
messages, and two deliveries with such changes in opposite orders can deadlock
(PostgreSQL fails one, its task retries). ``message_send`` locks its
conversation and writes no message but its own new one; ``status_orphans_link``
locks messages alone, after that commit. No transaction takes both chains: messaging
never locks a company row (``conversation_lock`` locks only the conversation,
not the joined company), and billing and licensing lock no messaging row. They
meet only in foreign-key checks, which FOR NO KEY UPDATE lets through.
"""

from .models import Company


def company_lock(company: Company | int) -> Company:
    """Lock and return the company's row; seat and invoice decisions serialise here."""
    pk = company if isinstance(company, int) else company.pk
    return Company.objects.select_for_update(no_key=True).get(pk=pk)
