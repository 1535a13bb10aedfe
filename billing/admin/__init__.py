"""The billing admin for Customer Success, one module per feature.

Everything that changes billing goes through a service (rate card import,
invoice compute/finalize/pay/void, credit notes, billing runs); a refused
request (``DomainError``) is shown as an error and nothing changes. Facts
(markets, charges, invoices, credit notes) are never edited here.

Django autodiscovers ``billing.admin``: importing the modules registers them.
"""

from . import (  # noqa: F401 - each module registers its ModelAdmins
    alerts,
    charges,
    credit_notes,
    emails,
    invoices,
    issuer,
    markets,
    pricing,
    rate_cards,
    reconciliation,
    runs,
)
