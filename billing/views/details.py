"""The company's billing details (F7): legal name, address, tax ID and billing
contact email on its invoices. Company admins edit them; agents get the
explanatory 403. Finalized invoices keep the details they were finalized with."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.decorators import company_admin_required, private_no_store
from accounts.services import (
    BILLING_DETAILS_FIELDS,
    company_billing_details_update,
)

from ..forms.billing_details import BillingDetailsForm


@private_no_store
@company_admin_required
def billing_details(request):
    company = request.user.company
    initial = {name: getattr(company, name) for name in BILLING_DETAILS_FIELDS}
    form = BillingDetailsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            company_billing_details_update(company=company, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _(
                    "Billing details saved. Drafts show them now; finalized "
                    "invoices keep the details they were issued with."
                ),
            )
            return redirect("billing:details")
    form.mark_invalid()
    return render(
        request, "billing/billing_details.html", {"company": company, "form": form}
    )
