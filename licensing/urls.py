from django.urls import path

from . import views

app_name = "licensing"

urlpatterns = [
    path("licenses/", views.licenses, name="licenses"),
    path("licenses/request/", views.license_request, name="license-request"),
    path(
        "licenses/requests/<int:pk>/approve/",
        views.license_request_approve_view,
        name="license-request-approve",
    ),
    path(
        "licenses/requests/<int:pk>/decline/",
        views.license_request_decline_view,
        name="license-request-decline",
    ),
]
