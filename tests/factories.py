from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Company, Team, User
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
