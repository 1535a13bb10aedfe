from django.urls import path

from . import inbox_views, views

urlpatterns = [
    path("webhooks/whatsapp/", views.whatsapp_webhook, name="whatsapp-webhook"),
    path("inbox/", inbox_views.inbox, name="inbox"),
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
]
