from django.urls import path

from . import contact_views, inbox_views, views

urlpatterns = [
    path("webhooks/whatsapp/", views.whatsapp_webhook, name="whatsapp-webhook"),
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/new/", contact_views.conversation_new, name="conversation-new"),
    path("inbox/<int:pk>/", inbox_views.conversation, name="conversation"),
    path(
        "inbox/<int:pk>/send/",
        inbox_views.conversation_send,
        name="conversation-send",
    ),
    path("contacts/", contact_views.contact_list, name="contacts"),
    path("contacts/import/", contact_views.contact_import, name="contact-import"),
    path(
        "contacts/<int:pk>/opt-in/",
        contact_views.contact_opt_in,
        name="contact-opt-in",
    ),
]
