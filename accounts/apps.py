from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from .services import customer_success_group_sync

    customer_success_group_sync()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Permissions are created in post_migrate, so the group is synced after them.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts_sync_roles")
