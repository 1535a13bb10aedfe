"""Compute (and optionally finalize) invoices for a month, now (D3)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Company
from billing.exceptions import MonthNotEnded
from billing.services.runs import Outcome, billing_run, month_parse, run_summary


class Command(BaseCommand):
    help = (
        "Compute every company's invoice of a month (the previous month in each "
        "company's billing time zone by default); --finalize also numbers them. "
        "Safe to re-run: drafts are recomputed, finalized invoices never change. "
        "A month that has not ended in the company's time zone is refused (with "
        "--company, or when it has ended nowhere) or skipped for that company."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--month", help="The billing month, YYYY-MM (default: the last ended one)"
        )
        parser.add_argument("--company", metavar="SLUG", help="Only this company")
        parser.add_argument(
            "--finalize",
            action="store_true",
            help="Finalize the drafts (the month must have ended)",
        )

    def handle(self, *args, month=None, company=None, finalize=False, **options):
        try:
            month = month_parse(month) if month is not None else None
        except ValueError as exc:
            raise CommandError(f"--month: {exc}") from exc
        if company is not None:
            try:
                company = Company.objects.get(slug=company)
            except Company.DoesNotExist as exc:
                raise CommandError(
                    f"--company: no company with slug '{company}'."
                ) from exc

        try:
            results = billing_run(
                month=month,
                company=company,
                finalize=finalize,
                triggered_by="run_billing",
            )
        except MonthNotEnded as exc:
            raise CommandError(exc.message) from exc
        for result in results:
            if result.outcome == Outcome.NOT_ENDED:
                self.stdout.write(self.style.WARNING(str(result)))
            elif result.ok:
                self.stdout.write(str(result))
            else:
                self.stderr.write(self.style.ERROR(str(result)))
        summary = run_summary(results)
        if not all(r.ok for r in results):
            raise CommandError(f"{summary}. See the errors above.")
        self.stdout.write(self.style.SUCCESS(summary))
