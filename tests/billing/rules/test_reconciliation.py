"""billing/rules/reconciliation.py (F4) without the database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.rules import reconciliation as r
from billing.rules.reconciliation import Kind
from tests import whatsapp

OUR_CATEGORIES = ("marketing", "utility", "authentication", "service")
PROVIDER_CATEGORIES = (
    "marketing",
    "utility",
    "authentication",
    "authentication_international",
    "service",
    "referral_conversion",
)
TYPES = ("regular", "free_customer_service", "free_entry_point")


# --- provider_verdict -------------------------------------------------------------


@pytest.mark.parametrize(
    "pricing,verdict",
    [
        # Meta's published fragments
        (
            {
                "billable": False,
                "pricing_model": "PMP",
                "type": "free_customer_service",
                "category": "service",
            },
            (False, "service"),
        ),
        (
            {
                "billable": False,
                "pricing_model": "PMP",
                "type": "free_customer_service",
                "category": "utility",
            },
            (False, "utility"),
        ),
        (
            {
                "billable": True,
                "pricing_model": "PMP",
                "type": "regular",
                "category": "marketing",
            },
            (True, "marketing"),
        ),
        # billable wins over type when both are there
        (
            {"billable": True, "type": "free_entry_point", "category": "utility"},
            (True, "utility"),
        ),
        (
            {"billable": False, "type": "regular", "category": "marketing"},
            (False, "marketing"),
        ),
        # without billable, only "regular" is charged
        ({"type": "regular", "category": "utility"}, (True, "utility")),
        ({"type": "free_entry_point", "category": "marketing"}, (False, "marketing")),
        ({"type": "free_customer_service", "category": "service"}, (False, "service")),
        ({"type": "REGULAR ", "category": "Marketing"}, (True, "marketing")),
        # names normalised
        (
            {
                "billable": True,
                "type": "regular",
                "category": "authentication_international",
            },
            (True, "authentication"),
        ),
        (
            {
                "billable": True,
                "pricing_model": "CBP",
                "category": "referral_conversion",
            },
            (False, "service"),
        ),
        ({"type": "regular", "category": "referral_conversion"}, (False, "service")),
        # an unknown category is kept as sent
        ({"billable": True, "category": "marketing_lite"}, (True, "marketing_lite")),
        ({"billable": True}, (True, "")),
    ],
)
def test_provider_verdict(pricing, verdict):
    assert r.provider_verdict(pricing) == verdict


@pytest.mark.parametrize(
    "pricing",
    [
        None,
        {},
        [],
        "regular",
        {"pricing_model": "PMP", "category": "marketing"},
        {"billable": "true", "category": "marketing"},  # not a JSON boolean
        {"billable": None, "type": None},
        {"type": 1, "category": "marketing"},
    ],
)
def test_provider_verdict_is_none_when_the_object_says_nothing_usable(pricing):
    assert r.provider_verdict(pricing) is None


def test_provider_verdict_of_meta_s_published_fragments():
    fragments = whatsapp.fixture("pricing_object_fragments__meta_pricing_doc.json")
    assert r.provider_verdict(fragments["free_non_template_in_csw"]) == (
        False,
        "service",
    )
    assert r.provider_verdict(fragments["free_utility_template_in_csw"]) == (
        False,
        "utility",
    )
    assert r.provider_verdict(fragments["billable"])[0] is True


def test_provider_values_are_kept_short():
    pricing = {"billable": True, "type": "x" * 500, "category": "y" * 500}
    assert len(r.provider_verdict(pricing)[1]) == r.MAX_VALUE_LENGTH
    assert len(r.provider_type(pricing)) == r.MAX_VALUE_LENGTH
    assert r.provider_type({"type": 3}) == r.provider_type(None) == ""


# --- disagreement_kind --------------------------------------------------------------


@pytest.mark.parametrize("ours", OUR_CATEGORIES)
@pytest.mark.parametrize("theirs", OUR_CATEGORIES)
@pytest.mark.parametrize("ours_billable", [True, False])
@pytest.mark.parametrize("provider_billable", [True, False])
def test_disagreement_kind_every_combination(
    ours, theirs, ours_billable, provider_billable
):
    kind = r.disagreement_kind(
        ours_billable=ours_billable,
        ours_category=ours,
        provider_billable=provider_billable,
        provider_category=theirs,
    )
    if ours_billable != provider_billable:
        assert kind == Kind.BILLABLE
    elif ours_billable and ours != theirs:
        assert kind == Kind.CATEGORY
    else:
        assert kind is None


def test_the_category_of_a_free_message_does_not_matter():
    assert (
        r.disagreement_kind(
            ours_billable=False,
            ours_category="service",
            provider_billable=False,
            provider_category="utility",
        )
        is None
    )


pricing_objects = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["billable", "type", "category", "pricing_model"]),
        st.one_of(
            st.booleans(),
            st.sampled_from(PROVIDER_CATEGORIES + TYPES + ("PMP", "CBP")),
            st.text(max_size=60),
            st.integers(),
            st.none(),
        ),
    ),
)


@given(
    pricing=pricing_objects,
    ours_billable=st.booleans(),
    ours_category=st.sampled_from(OUR_CATEGORIES),
)
def test_a_disagreement_is_reported_exactly_when_the_verdicts_differ(
    pricing, ours_billable, ours_category
):
    found = r.pricing_disagreement(
        ours_billable=ours_billable, ours_category=ours_category, pricing=pricing
    )
    verdict = r.provider_verdict(pricing)
    if verdict is None:
        assert found is None
        return
    billable, category = verdict
    assert category in OUR_CATEGORIES or category not in PROVIDER_CATEGORIES
    agrees = billable == ours_billable and (not billable or category == ours_category)
    assert (found is None) == agrees
    if found is not None:
        kind, provider_billable, provider_category = found
        assert (provider_billable, provider_category) == verdict
        assert kind in Kind.ALL
        assert (kind == Kind.BILLABLE) == (billable != ours_billable)


@given(pricing=pricing_objects)
def test_our_own_verdict_never_disagrees_with_itself(pricing):
    verdict = r.provider_verdict(pricing)
    if verdict is not None:
        billable, category = verdict
        assert (
            r.pricing_disagreement(
                ours_billable=billable, ours_category=category, pricing=pricing
            )
            is None
        )
