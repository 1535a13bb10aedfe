from datetime import UTC, date, datetime
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Company, Team, User
from billing.models import ChargePolicy, Invoice, Market, Rate, RateCard
from licensing.models import LicenseAssignment, LicenseCountChange, LicensePrice


class CompanyFactory(DjangoModelFactory[Company]):
    class Meta:
        model = Company
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    billing_email = factory.LazyAttribute(lambda o: f"billing@{o.slug}.example")
    billing_address = "1 Main Street"
    country = "ES"
    billing_currency = "EUR"
    billing_timezone = "UTC"
    tax_rate = Decimal("0")


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Sequence(lambda n: f"User {n}")
    company = factory.SubFactory(CompanyFactory)
    role = User.Role.AGENT
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class CompanyAdminFactory(UserFactory):
    role = User.Role.COMPANY_ADMIN


class StaffUserFactory(UserFactory):
    company = None
    is_staff = True
    email = factory.Sequence(lambda n: f"cs{n}@example.com")


class TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Team {n}")

    @factory.post_generation
    def members(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted:
            obj.members.set(extracted)


class LicenseCountChangeFactory(DjangoModelFactory[LicenseCountChange]):
    class Meta:
        model = LicenseCountChange

    company = factory.SubFactory(CompanyFactory)
    quantity = 0
    effective_at = factory.LazyFunction(timezone.now)


class LicensePriceFactory(DjangoModelFactory[LicensePrice]):
    class Meta:
        model = LicensePrice

    company = factory.SubFactory(CompanyFactory)
    currency = factory.LazyAttribute(
        lambda o: o.company.billing_currency if o.company else "EUR"
    )
    monthly_amount = Decimal("10.00")
    effective_at = factory.LazyFunction(timezone.now)


class LicenseAssignmentFactory(DjangoModelFactory[LicenseAssignment]):
    class Meta:
        model = LicenseAssignment

    user = factory.SubFactory(UserFactory)
    company = factory.LazyAttribute(lambda o: o.user.company)
    assigned_at = factory.LazyFunction(timezone.now)


# --- messaging -------------------------------------------------------------
from messaging.models import (  # noqa: E402
    BusinessNumber,
    Contact,
    ContactOptIn,
    Conversation,
    MessageTemplate,
)


class BusinessNumberFactory(DjangoModelFactory[BusinessNumber]):
    class Meta:
        model = BusinessNumber

    company = factory.SubFactory(CompanyFactory)
    phone_number_id = factory.Sequence(lambda n: f"10654035224{n:04d}")
    display_phone_number = factory.Sequence(lambda n: f"1555078{n:04d}")
    waba_id = "102290129340398"


class ContactFactory(DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    company = factory.SubFactory(CompanyFactory)
    wa_id = factory.Sequence(lambda n: f"3461234{n:04d}")
    profile_name = factory.Sequence(lambda n: f"Contact {n}")
    country = "ES"


class ConversationFactory(DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation
        skip_postgeneration_save = True

    business_number = factory.SubFactory(BusinessNumberFactory)
    company = factory.LazyAttribute(lambda o: o.business_number.company)
    contact = factory.LazyAttribute(
        lambda o: ContactFactory(company=o.business_number.company)
    )

    @factory.post_generation
    def opted_in(obj, create, extracted, **kwargs):  # noqa: N805
        """F8: the contact opted in to the number (imported), unless
        ``opted_in=False``: most tests send business-initiated templates."""
        if create and extracted is not False:
            ContactOptInFactory(
                contact=obj.contact, business_number=obj.business_number
            )


class ContactOptInFactory(DjangoModelFactory[ContactOptIn]):
    class Meta:
        model = ContactOptIn

    contact = factory.SubFactory(ContactFactory)
    business_number = factory.SubFactory(
        BusinessNumberFactory, company=factory.SelfAttribute("..contact.company")
    )
    company = factory.LazyAttribute(lambda o: o.contact.company)
    source = ContactOptIn.Source.IMPORT
    opted_in_at = factory.LazyFunction(timezone.now)


class MessageTemplateFactory(DjangoModelFactory[MessageTemplate]):
    class Meta:
        model = MessageTemplate

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"template_{n}")
    language = "en_US"
    category = MessageTemplate.Category.UTILITY
    status = MessageTemplate.Status.APPROVED
    body = "Hello {{1}}, your order {{2}} has shipped."


def licensed_user(company, **kwargs) -> User:
    """Return a user of ``company`` holding a license (buying one more seat for it)."""
    from licensing.selectors import license_summary
    from licensing.services import license_assign, license_count_set

    user = UserFactory(company=company, **kwargs)
    purchased = license_summary(company=company).purchased
    license_count_set(company=company, quantity=purchased + 1, actor=None)
    license_assign(company=company, users=[user], actor=None)
    return user


# --- billing -----------------------------------------------------------------


class RateCardFactory(DjangoModelFactory[RateCard]):
    """A card of the price list (no company) in EUR, unless told otherwise."""

    class Meta:
        model = RateCard
        django_get_or_create = ("company", "currency")

    company = None
    currency = "EUR"


class RateFactory(DjangoModelFactory[Rate]):
    """A Spain marketing rate in force since 2026-01-01 (C6). Markets are seeded by
    migration; after a flush, ``billing.markets.markets_seed`` puts them back."""

    class Meta:
        model = Rate

    card = factory.SubFactory(RateCardFactory)
    market = factory.LazyFunction(lambda: Market.objects.get(name="Spain"))
    category = "marketing"
    rate = Decimal("0.0615")
    effective_from = datetime(2026, 1, 1, tzinfo=UTC)


class InvoiceFactory(DjangoModelFactory[Invoice]):
    """A draft of October 2026 in UTC without lines; contract tests make real
    invoices through the services."""

    class Meta:
        model = Invoice

    company = factory.SubFactory(CompanyFactory)
    month = date(2026, 10, 1)
    period_start = datetime(2026, 10, 1, tzinfo=UTC)
    period_end = datetime(2026, 11, 1, tzinfo=UTC)
    currency = factory.LazyAttribute(lambda o: o.company.billing_currency)
    status = Invoice.Status.DRAFT
    # A draft has no number; any other status has one (invoice_number_once_finalized).
    number = factory.LazyAttributeSequence(
        lambda o, n: None if o.status == Invoice.Status.DRAFT else f"INV-2026-{n:06d}"
    )


class ChargePolicyFactory(DjangoModelFactory[ChargePolicy]):
    """A charge policy with the contract's terms (C2-C5) unless told otherwise."""

    class Meta:
        model = ChargePolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    description = "Contract terms."
