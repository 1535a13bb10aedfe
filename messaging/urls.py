from django.urls import path

from . import contact_views, inbox_views

urlpatterns = [
    # The webhook (webhooks/whatsapp/) is the first of config/urls.py.
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/new/", contact_views.conversation_new, name="conversation-new"),
    path("inbox/<int:pk>/", inbox_views.conversation, name="conversation"),
    path(
        "inbox/<int:pk>/older/",
        inbox_views.conversation_older,
        name="conversation-older",
    ),
    path(
        "inbox/<int:pk>/live/",
        inbox_views.conversation_live,
        name="conversation-live",
    ),
    path(
        "inbox/<int:pk>/read/",
        inbox_views.conversation_read,
        name="conversation-read",
    ),
    path(
        "inbox/<int:pk>/assign/",
        inbox_views.conversation_assign_view,
        name="conversation-assign",
    ),
    path(
        "inbox/<int:pk>/send/",
        inbox_views.conversation_send,
        name="conversation-send",
    ),
    # "contacts/" (the list, with each contact's market) is portal.urls'.
    path("contacts/import/", contact_views.contact_import, name="contact-import"),
    path(
        "contacts/<int:pk>/opt-in/",
        contact_views.contact_opt_in,
        name="contact-opt-in",
    ),
]
