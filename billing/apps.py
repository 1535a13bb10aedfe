from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from messaging.signals import messages_changed

        messages_changed.connect(_messages_changed, dispatch_uid="billing-usage")


def _messages_changed(
    sender, *, company_id: int, conversation_ids, messages=None, **kwargs
) -> None:
    """The month so far syncs the conversations whose messages changed, or
    only the messages, when the signal says only they changed."""
    from .services import usage_changes_record

    usage_changes_record(
        company_id=company_id, conversation_ids=conversation_ids, messages=messages
    )
