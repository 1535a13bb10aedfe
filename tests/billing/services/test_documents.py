"""Billing's factories make valid rows, and the document rules read from them."""

import pytest

from billing.exceptions import InvalidTransition
from billing.models import Invoice
from billing.rules import charge_for
from billing.selectors import creditable_lines, policy_terms
from billing.services import invoice_recompute
from tests.factories import ChargePolicyFactory, InvoiceFactory, RateFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", sorted(Invoice.FROZEN))
def test_d2_a_frozen_invoice_is_never_recomputed(status):
    invoice = InvoiceFactory(status=status)
    with pytest.raises(InvalidTransition, match="finalized invoices never change"):
        invoice_recompute(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == status


@pytest.mark.parametrize(
    "status,creditable",
    [("draft", False), ("finalized", True), ("paid", True), ("void", False)],
)
def test_d2_only_finalized_or_paid_invoices_are_creditable(status, creditable):
    invoice = InvoiceFactory(status=status)
    assert invoice.is_creditable is creditable
    assert list(creditable_lines(invoice=invoice)) == []


def test_a_policy_with_default_terms_charges_as_the_contract():
    policy = ChargePolicyFactory()
    terms = policy_terms(policy)
    for category in ("marketing", "utility", "authentication"):
        for window_open in (False, True):
            assert charge_for(
                category=category, window_open=window_open, terms=terms
            ) == charge_for(category=category, window_open=window_open)


def test_rate_factory_makes_a_price_list_rate():
    rate = RateFactory()
    assert (rate.card.company, rate.card.currency, rate.market.name) == (
        None,
        "EUR",
        "Spain",
    )
