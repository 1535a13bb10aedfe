from django.contrib import admin
from django.urls import include, path

from messaging import views as messaging_views
from portal import views as portal_views

admin.site.site_header = "WhatsApp add-on · Customer Success"
admin.site.site_title = "WhatsApp add-on admin"
admin.site.index_title = "Companies, licenses, messages and invoices"

urlpatterns = [
    # First: the provider's POSTs are most of the traffic, resolved without
    # trying every other pattern.
    path(
        "webhooks/whatsapp/",
        messaging_views.whatsapp_webhook,
        name="whatsapp-webhook",
    ),
    path("", portal_views.home, name="home"),
    path("accounts/", include("portal.auth_urls")),
    # Before Django's own: the switch also keeps a signed-in user's language.
    path("i18n/setlang/", portal_views.language_set, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("messaging.api_urls")),
    path("api/", include("billing.api_urls")),
    path("billing/", include("billing.urls")),
    path("", include("portal.urls")),
    path("", include("licensing.urls")),
    path("", include("messaging.urls")),
]

handler500 = "config.views.server_error"
