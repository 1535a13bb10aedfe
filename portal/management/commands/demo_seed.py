"""Load demo data; safe to run any number of times (everything is get-or-create)."""

from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

import billing.demo
import messaging.demo
from accounts.models import Company, Team, User
from accounts.roles import CUSTOMER_SUCCESS_GROUP
from accounts.services import customer_success_group_sync
from licensing.models import LicenseCountChange, LicensePrice
from licensing.services import license_assign, license_count_set, license_price_set

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
        "licenses": 5,
        "price": Decimal("15.00"),
        "admin": ("ana@acme-iberia.example", "Ana García"),
        "agents": [
            ("luis@acme-iberia.example", "Luis Pérez", "Sales", True),
            ("marta@acme-iberia.example", "Marta Ruiz", "Sales", True),
            ("jorge@acme-iberia.example", "Jorge Díaz", "Support", True),
            ("elena@acme-iberia.example", "Elena Gómez", "Support", False),
        ],
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
        "licenses": 3,
        "price": None,  # uses the price list default
        "admin": ("carlos@globex.example", "Carlos Hernández"),
        "agents": [
            ("sofia@globex.example", "Sofía López", "Ventas", True),
            ("diego@globex.example", "Diego Torres", "Ventas", True),
            ("valeria@globex.example", "Valeria Cruz", "Soporte", False),
        ],
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
                )

        for spec in COMPANIES:
            self._company(spec, cs)
        messaging.demo.seed(actor=cs)
        billing.demo.seed(actor=cs)  # after messaging: it invoices that traffic

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

    def _company(self, spec, cs):
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
        if not LicenseCountChange.objects.filter(company=company).exists():
            license_count_set(
                company=company,
                quantity=spec["licenses"],
                actor=cs,
                note="Demo contract",
            )
        if (
            spec["price"] is not None
            and not LicensePrice.objects.filter(company=company).exists()
        ):
            license_price_set(
                company=company,
                currency=company.billing_currency,
                monthly_amount=spec["price"],
                actor=cs,
                note="Negotiated (demo)",
            )
        admin_email, admin_name = spec["admin"]
        self._user(company, admin_email, admin_name, User.Role.COMPANY_ADMIN)
        to_license = []
        for email, name, team_name, licensed in spec["agents"]:
            user = self._user(company, email, name, User.Role.AGENT)
            team, _ = Team.objects.get_or_create(company=company, name=team_name)
            team.members.add(user)
            if licensed:
                to_license.append(user)
        license_assign(company=company, users=to_license, actor=cs)
        return company

    def _user(self, company, email, name, role):
        user, created = User.objects.get_or_create(
            email=email, defaults={"full_name": name, "company": company, "role": role}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user
