from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The composition app: pages, admin and commands that put accounts,
    licensing, messaging and billing together. It may import all four; none of
    them imports it."""

    name = "portal"
    verbose_name = "Portal"
