from django.urls import path

from . import inbox_views, views

urlpatterns = [
    path("webhooks/whatsapp/", views.whatsapp_webhook, name="whatsapp-webhook"),
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/<int:pk>/", inbox_views.conversation, name="conversation"),
    path(
        "inbox/<int:pk>/send/",
        inbox_views.conversation_send,
        name="conversation-send",
    ),
]
