"""The accounts' pages (django.contrib.auth's views and URL names), with the
password pages in the portal's look: templates/registration/portal_*.html.

The admin keeps its own password change page (registration/password_change_form.html
of django.contrib.admin), so these templates have names of their own."""

from django.contrib.auth import views as auth_views
from django.urls import path


def _page(view, template: str, name: str, route: str):
    return path(
        route,
        view.as_view(template_name=f"registration/portal_{template}.html"),
        name=name,
    )


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    _page(
        auth_views.PasswordChangeView,
        "password_change_form",
        "password_change",
        "password_change/",
    ),
    _page(
        auth_views.PasswordChangeDoneView,
        "password_change_done",
        "password_change_done",
        "password_change/done/",
    ),
    _page(
        auth_views.PasswordResetView,
        "password_reset_form",
        "password_reset",
        "password_reset/",
    ),
    _page(
        auth_views.PasswordResetDoneView,
        "password_reset_done",
        "password_reset_done",
        "password_reset/done/",
    ),
    _page(
        auth_views.PasswordResetConfirmView,
        "password_reset_confirm",
        "password_reset_confirm",
        "reset/<uidb64>/<token>/",
    ),
    _page(
        auth_views.PasswordResetCompleteView,
        "password_reset_complete",
        "password_reset_complete",
        "reset/done/",
    ),
]
