"""The rate card admin and its CSV import and export, through the test client."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import Rate, RateCard
from tests.billing.admin.helpers import messages as _messages
from tests.billing.admin.helpers import queries as _queries
from tests.factories import CompanyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_now")]


def test_rate_card_list_query_count_does_not_grow_with_rows(
    cs_client, django_assert_max_num_queries, rates
):
    for _ in range(3):
        RateCard.objects.create(company=CompanyFactory(), currency="EUR")
    cards = reverse("admin:billing_ratecard_changelist")
    few = _queries(cs_client, cards)
    for _ in range(27):
        RateCard.objects.create(company=CompanyFactory(), currency="EUR")
    with django_assert_max_num_queries(few):
        cs_client.get(cards)


# --- rate cards --------------------------------------------------------------------------


def test_adding_a_company_card_in_another_currency_is_a_form_error(cs_client):
    company = CompanyFactory(name="Globex", billing_currency="MXN")
    response = cs_client.post(
        reverse("admin:billing_ratecard_add"),
        {"company": company.pk, "currency": "EUR", "name": ""},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["currency"] == [
        "Globex is billed in MXN; its rate card must use MXN, not EUR."
    ]
    assert not RateCard.objects.exists()
    cs_client.post(
        reverse("admin:billing_ratecard_add"),
        {"company": company.pk, "currency": "mxn", "name": "Globex 2026"},
    )
    assert RateCard.objects.get().currency == "MXN"


def test_adding_a_second_price_list_in_a_currency_is_a_form_error(cs_client, rates):
    response = cs_client.post(
        reverse("admin:billing_ratecard_add"), {"currency": "EUR", "name": ""}
    )
    assert response.context["adminform"].form.errors["currency"] == [
        "The price list already has a EUR rate card; import the rates into it."
    ]


def test_rate_card_page_has_import_and_export_buttons(cs_client, rates):
    response = cs_client.get(reverse("admin:billing_ratecard_change", args=[rates.pk]))
    html = response.content.decode()
    assert reverse("admin:billing_ratecard_import", args=[rates.pk]) in html
    assert reverse("admin:billing_ratecard_export", args=[rates.pk]) in html
    assert "0.0615" in html  # the rates inline
    listing = cs_client.get(reverse("admin:billing_ratecard_changelist"))
    assert listing.context["cl"].result_list[0].rate_count == 3


def test_export_downloads_the_csv(cs_client, rates):
    response = cs_client.get(reverse("admin:billing_ratecard_export", args=[rates.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="rates-price-list-EUR.csv"'
    )
    assert response.content.decode().splitlines()[:2] == [
        "market,category,rate,currency,effective_from",
        "Spain,authentication,0.0300,EUR,2026-01-01",
    ]


def _upload(text: str | bytes) -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile("rates.csv", data, content_type="text/csv")


def test_import_csv_adds_the_rates(cs_client, cs_user, rates):
    url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    assert cs_client.get(url).status_code == 200
    response = cs_client.post(
        url,
        {
            "file": _upload(
                "\ufeffmarket,category,rate,currency,effective_from\n"
                "Spain,marketing,0.0615,EUR,2026-01-01\n"
                "France,marketing,0.1320,EUR,2026-12-01\n"
                "France,utility,0.0275,EUR,2026-12-01\n"
            )
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse(
        "admin:billing_ratecard_change", args=[rates.pk]
    )
    assert _messages(response) == [
        "Imported 2 new rate(s) into Price list (EUR); rows already on the card "
        "were skipped."
    ]
    assert Rate.objects.filter(card=rates, created_by=cs_user).count() == 2


def test_import_csv_with_errors_lists_them_and_imports_nothing(cs_client, rates):
    url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    response = cs_client.post(
        url,
        {
            "file": _upload(
                "market,category,rate,currency,effective_from\n"
                "France,marketing,0.1320,EUR,2026-12-01\n"
                "Spian,marketing,0.0615,EUR,2026-01-01\n"
                "Spain,marketing,0.0700,EUR,2026-01-01\n"
            )
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "line 3: unknown market &#x27;Spian&#x27;" in html
    assert "line 4: Spain marketing from 2026-01-01 already has rate 0.0615" in html
    assert "has 2 errors; nothing was imported." in html
    assert rates.rates.count() == 3


def test_import_refuses_a_file_that_is_not_utf8(cs_client, rates):
    url = reverse("admin:billing_ratecard_import", args=[rates.pk])
    response = cs_client.post(
        url, {"file": _upload("market,category\nEspaña".encode("latin-1"))}
    )
    assert response.context["form"].errors["file"] == [
        "The file is not UTF-8 text: save it as “CSV UTF-8” and retry."
    ]


def test_rate_history_cannot_be_edited_from_the_card(cs_client, rates):
    url = reverse("admin:billing_ratecard_change", args=[rates.pk])
    html = cs_client.get(url).content.decode()
    assert 'name="rates-0-rate"' not in html
    assert 'name="company"' not in html and 'name="currency"' not in html
    delete = reverse("admin:billing_ratecard_delete", args=[rates.pk])
    assert cs_client.post(delete, {"post": "yes"}).status_code == 403
