"""Routes of the JSON API, mounted under ``api/``."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import api

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI and Redoc load their assets from a CDN unless
    # drf-spectacular-sidecar is installed, so the docs are a plain page.
    path("schema/docs/", api.api_docs, name="api-docs"),
    path(
        "conversations/",
        api.ConversationListView.as_view(),
        name="api-conversation-list",
    ),
    path(
        "conversations/<int:pk>/",
        api.ConversationDetailView.as_view(),
        name="api-conversation-detail",
    ),
    path(
        "conversations/<int:conversation_id>/messages/",
        api.ConversationMessageListView.as_view(),
        name="api-conversation-messages",
    ),
    path("messages/", api.MessageCreateView.as_view(), name="api-message-create"),
]
