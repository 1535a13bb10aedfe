"""The Customer Success group and exactly the admin permissions it needs.

Customer Success manage companies, users, teams and licenses, and see every
message and invoice. They never delete history (license changes, assignments,
messages, webhook deliveries, invoices): corrections are new rows.
"""

CUSTOMER_SUCCESS_GROUP = "Customer Success"

CUSTOMER_SUCCESS_PERMISSIONS = frozenset(
    {
        # accounts
        "accounts.view_company",
        "accounts.add_company",
        "accounts.change_company",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_team",
        "accounts.add_team",
        "accounts.change_team",
        "accounts.delete_team",
        # licensing: history is append-only, so no change/delete on it
        "licensing.view_licensecountchange",
        "licensing.add_licensecountchange",
        "licensing.view_licenseprice",
        "licensing.add_licenseprice",
        "licensing.view_licenseassignment",
        "licensing.add_licenseassignment",
        "licensing.change_licenseassignment",
        # license requests: viewed, and approved/declined by actions (services)
        "licensing.view_licenserequest",
        "licensing.change_licenserequest",
        "licensing.view_idlelicensenotice",
        # messaging
        "messaging.view_businessnumber",
        "messaging.add_businessnumber",
        "messaging.change_businessnumber",
        "messaging.view_contact",
        "messaging.view_conversation",
        "messaging.view_message",
        "messaging.view_messagestatusevent",
        "messaging.view_messagetemplate",
        "messaging.add_messagetemplate",
        "messaging.change_messagetemplate",
        "messaging.view_webhookdelivery",
        "messaging.view_contactoptin",
        "messaging.view_templateevent",
        "messaging.change_webhookdelivery",
        # billing
        "billing.view_market",
        "billing.view_marketprefix",
        "billing.view_ratecard",
        "billing.add_ratecard",
        "billing.change_ratecard",
        "billing.view_rate",
        "billing.add_rate",
        "billing.view_charge",
        "billing.view_invoice",
        "billing.change_invoice",
        "billing.view_invoiceline",
        "billing.view_creditnote",
        "billing.add_creditnote",
        "billing.view_creditnoteline",
        "billing.view_billingrun",
        "billing.view_issuer",
        "billing.add_issuer",
        "billing.change_issuer",
        # invoice and credit note emails: history; "change" is the "Send again" action
        "billing.view_documentemail",
        "billing.change_documentemail",
        # spend alerts: budgets are editable, the alerts sent are history
        "billing.view_monthlybudget",
        "billing.add_monthlybudget",
        "billing.change_monthlybudget",
        "billing.view_spendalert",
        # reconciliation (F4): derived rows, reviewed by an action (a service)
        "billing.view_pricingdisagreement",
        "billing.change_pricingdisagreement",
        "billing.view_chargepolicy",
        "billing.add_chargepolicy",
        "billing.change_chargepolicy",
        "billing.view_chargepolicyassignment",
        "billing.add_chargepolicyassignment",
        "billing.view_volumetier",
        "billing.add_volumetier",
    }
)
