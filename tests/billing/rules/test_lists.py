"""The lists the rules and the models share are one: reasons, categories."""

import itertools

from billing import rules
from billing.models import Charge


def test_every_answer_of_charge_for_is_a_charge_reason_choice():
    answers = {
        rules.charge_for(
            category=category,
            window_open=window_open,
            terms=rules.PolicyTerms(**dict.fromkeys(flags, True)),
            entry_point=entry_point,
            provider_entry_point=provider,
        )[1]
        for category in rules.CATEGORIES
        for window_open, entry_point, provider in itertools.product(
            (False, True), repeat=3
        )
        for flags in (
            (),
            ("utility_in_window", "service_in_window"),
        )
    } | {
        rules.charge_for(
            category=category,
            window_open=window_open,
            terms=rules.PolicyTerms(
                marketing_in_window=False, authentication_outside_window=False
            ),
        )[1]
        for category in rules.CATEGORIES
        for window_open in (False, True)
    }
    choices = {value for value, _ in Charge._meta.get_field("reason").choices}
    assert answers <= choices
    assert choices == {
        value for name, value in vars(rules.Reason).items() if name.isupper()
    }


def test_the_category_lists_are_one():
    from billing.models import ChargeCategory
    from messaging.models import MessageTemplate

    assert tuple(MessageTemplate.Category.values) == rules.TEMPLATE_CATEGORIES
    assert tuple(ChargeCategory.values) == rules.CATEGORIES
    assert set(rules.TIERED_CATEGORIES) <= set(rules.TEMPLATE_CATEGORIES)
