from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        # licensing asks how its license holders send without importing messaging.
        from licensing import activity

        from .activity import MessageSendActivity

        activity.register(MessageSendActivity())
