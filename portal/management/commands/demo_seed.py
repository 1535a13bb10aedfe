"""Load demo data; safe to run any number of times (everything is get-or-create).

The license history starts months back (``HISTORY_MONTHS`` before the last ended
month), recorded through the licensing services as of each past instant: a
count raised in the middle of the month before last (its invoice prorates it),
an agent licensed then who never sends (an idle license). The month before last
carries real usage volumes (``messaging.demo.volume_seed``). Billing then
invoices every month from the start: older months finalized (and some paid),
the last ended month a draft (``billing.demo.seed``).
"""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

import billing.demo
import messaging.demo
from accounts.models import Company, Team, User
from accounts.periods import month_bounds
from accounts.roles import CUSTOMER_SUCCESS_GROUP
from accounts.services import customer_success_group_sync
from billing.rules import previous_month
from licensing.models import LicenseCountChange, LicensePrice
from licensing.services import license_assign, license_count_set, license_price_set

# The license history starts this many months before the last ended month.
HISTORY_MONTHS = 3
# The count is raised on this day of the month before last (prorated on its invoice).
RAISE_DAY = 15

DEMO_PASSWORD = "demo-pass-2026"

COMPANIES = [
    {
        "slug": "acme-iberia",
        "name": "Acme Iberia S.L.",
        "country": "ES",
        "billing_currency": "EUR",
        "billing_timezone": "Europe/Madrid",
        "tax_rate": Decimal("0.21"),
        "billing_email": "finance@acme-iberia.example",
        "billing_address": "Calle de Alcalá 42\n28014 Madrid\nSpain",
        # 3 licenses from the start of the history, 5 from RAISE_DAY of the
        # month before last.
        "licenses": 3,
        "raised_to": 5,
        "price": Decimal("15.00"),
        "admin": ("ana@acme-iberia.example", "Ana García"),
        # (email, name, team, licensed: "start", "raise" or False)
        "agents": [
            ("luis@acme-iberia.example", "Luis Pérez", "Sales", "start"),
            ("marta@acme-iberia.example", "Marta Ruiz", "Sales", "start"),
            ("jorge@acme-iberia.example", "Jorge Díaz", "Support", "raise"),
            ("elena@acme-iberia.example", "Elena Gómez", "Support", False),
        ],
        # Licensed the day after the raise and never sends: an idle license.
        "idle": ("pablo@acme-iberia.example", "Pablo Moreno", "Support"),
        "volume": 3200,
        # The month before last is paid after this many months (None: unpaid).
        "paid": (0, 1),
    },
    {
        "slug": "globex-mx",
        "name": "Globex México S.A. de C.V.",
        "country": "MX",
        "billing_currency": "MXN",
        "billing_timezone": "America/Mexico_City",
        "tax_rate": Decimal("0.16"),
        "billing_email": "facturas@globex.example",
        "billing_address": "Av. Paseo de la Reforma 250\n06600 Ciudad de México\nMéxico",
        "licenses": 2,
        "raised_to": 3,
        "price": None,  # uses the price list default
        "admin": ("carlos@globex.example", "Carlos Hernández"),
        "agents": [
            ("sofia@globex.example", "Sofía López", "Ventas", "start"),
            ("diego@globex.example", "Diego Torres", "Ventas", "raise"),
            ("valeria@globex.example", "Valeria Cruz", "Soporte", False),
        ],
        "idle": None,
        "volume": 1400,
        # Only the first month is paid: the next one is overdue once due.
        "paid": (0,),
    },
]

PRICE_LIST = {
    "EUR": Decimal("19.00"),
    "MXN": Decimal("390.00"),
    "USD": Decimal("20.00"),
}


class Command(BaseCommand):
    help = "Create demo companies, users, teams, licenses (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        customer_success_group_sync()
        cs, created = User.objects.get_or_create(
            email="cs@example.com",
            defaults={"full_name": "Customer Success", "is_staff": True},
        )
        if created:
            cs.set_password(DEMO_PASSWORD)
            cs.save()
        cs.groups.add(Group.objects.get(name=CUSTOMER_SUCCESS_GROUP))

        now = timezone.now()
        # In force from the start of every company's history (UTC-12 … UTC+14).
        list_from = min(
            self._history(spec, now)["start"] for spec in COMPANIES
        ) - timedelta(days=1)
        for currency, amount in PRICE_LIST.items():
            if not LicensePrice.objects.filter(
                company=None, currency=currency
            ).exists():
                license_price_set(
                    company=None,
                    currency=currency,
                    monthly_amount=amount,
                    actor=cs,
                    note="Demo price list",
                    effective_at=list_from,
                    at=list_from,
                )

        companies = [self._company(spec, cs, now) for spec in COMPANIES]
        messaging.demo.seed(actor=cs)
        for spec, company in zip(COMPANIES, companies, strict=True):
            self._volume(spec, company, now)
            self._idle(spec, company, cs, now)
        # After messaging: it invoices that traffic.
        billing.demo.seed(
            actor=cs,
            history_months=HISTORY_MONTHS,
            paid={spec["slug"]: spec["paid"] for spec in COMPANIES},
        )

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"  Customer Success (admin site): cs@example.com / {DEMO_PASSWORD}"
        )
        for spec in COMPANIES:
            self.stdout.write(
                f"  {spec['name']} admin: {spec['admin'][0]} / {DEMO_PASSWORD}"
            )
            licensed = [a for a in spec["agents"] if a[3]]
            unlicensed = [a for a in spec["agents"] if not a[3]]
            self.stdout.write(f"    licensed agent: {licensed[0][0]}")
            self.stdout.write(f"    read-only agent: {unlicensed[0][0]}")

    def _history(self, spec, now) -> dict:
        """The instants of the company's license history, in its zone."""
        zone = ZoneInfo(spec["billing_timezone"])
        last_ended = previous_month(now, zone)
        first = last_ended - relativedelta(months=HISTORY_MONTHS)
        before_last = last_ended - relativedelta(months=1)
        start, _ = month_bounds(first, zone)
        before_last_start, _ = month_bounds(before_last, zone)
        return {
            "start": start,
            "raise": before_last_start + timedelta(days=RAISE_DAY - 1, hours=9),
            "before_last": before_last,
        }

    def _company(self, spec, cs, now):
        company, _ = Company.objects.get_or_create(
            slug=spec["slug"],
            defaults={
                k: spec[k]
                for k in (
                    "name",
                    "country",
                    "billing_currency",
                    "billing_timezone",
                    "tax_rate",
                    "billing_email",
                    "billing_address",
                )
            },
        )
        when = self._history(spec, now)
        fresh = not LicenseCountChange.objects.filter(company=company).exists()
        if fresh:
            # Recorded as of their instants, months back, through the services.
            if spec["price"] is not None:
                license_price_set(
                    company=company,
                    currency=company.billing_currency,
                    monthly_amount=spec["price"],
                    actor=cs,
                    note="Negotiated (demo)",
                    effective_at=when["start"],
                    at=when["start"],
                )
            license_count_set(
                company=company,
                quantity=spec["licenses"],
                actor=cs,
                note="Demo contract",
                effective_at=when["start"],
                at=when["start"],
            )
        admin_email, admin_name = spec["admin"]
        self._user(company, admin_email, admin_name, User.Role.COMPANY_ADMIN)
        licensed = {"start": [], "raise": []}
        for email, name, team_name, since in spec["agents"]:
            user = self._user(company, email, name, User.Role.AGENT)
            team, _ = Team.objects.get_or_create(company=company, name=team_name)
            team.members.add(user)
            if since:
                licensed[since].append(user)
        if fresh:
            license_assign(
                company=company,
                users=licensed["start"],
                actor=cs,
                at=when["start"] + timedelta(hours=10),
            )
            license_count_set(
                company=company,
                quantity=spec["raised_to"],
                actor=cs,
                note="Demo: more agents",
                effective_at=when["raise"],
                at=when["raise"],
            )
            license_assign(
                company=company,
                users=licensed["raise"],
                actor=cs,
                at=when["raise"] + timedelta(hours=1),
            )
        else:
            license_assign(
                company=company,
                users=licensed["start"] + licensed["raise"],
                actor=cs,
            )
        return company

    def _volume(self, spec, company, now) -> None:
        """The month before last's traffic: thousands of delivered templates."""
        if not spec.get("volume"):
            return
        zone = company.zone
        month = self._history(spec, now)["before_last"]
        start, end = month_bounds(month, zone)
        sender = User.objects.get(email=spec["agents"][0][0])
        messaging.demo.volume_seed(
            company=company,
            start=start,
            end=end,
            messages=spec["volume"],
            sender=sender,
        )

    def _idle(self, spec, company, cs, now) -> None:
        """An agent licensed the day after the raise who never sends."""
        if not spec.get("idle"):
            return
        email, name, team_name = spec["idle"]
        user = self._user(company, email, name, User.Role.AGENT)
        team, _ = Team.objects.get_or_create(company=company, name=team_name)
        team.members.add(user)
        if not user.license_assignments.exists():
            license_assign(
                company=company,
                users=[user],
                actor=cs,
                at=self._history(spec, now)["raise"] + timedelta(days=1),
            )

    def _user(self, company, email, name, role):
        user, created = User.objects.get_or_create(
            email=email, defaults={"full_name": name, "company": company, "role": role}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user
