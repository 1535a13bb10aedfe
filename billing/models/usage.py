"""The month so far (D1-D3 as a read): which conversations changed since the last
sync, and the synced totals a GET reads without computing anything."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Company


class UsageChange(models.Model):
    """A change billing derives from since the company's month so far was last
    synced: a message whose delivery status changed (``message_id``: only its
    own charge is rebuilt), or a conversation with a new inbound message (no
    ``message_id``: every message of it, C3). Written in the transaction of the
    change, consumed (deleted by id) by the sync: nothing committed is missed,
    whatever order transactions commit in. One row per change (no upsert: a
    change is never folded into a row a sync is taking)."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    conversation_id = models.BigIntegerField()
    message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("usage change")
        verbose_name_plural = _("usage changes")
        indexes = [
            models.Index(fields=["company", "id"], name="usagechange_company_idx")
        ]

    def __str__(self) -> str:
        if self.message_id is not None:
            return f"{self.company_id}: message {self.message_id}"
        return f"{self.company_id}: conversation {self.conversation_id}"


class UsageSnapshot(models.Model):
    """The company's unbilled charges summed, kept by ``usage_sync``: the groups an
    invoice's usage lines are made of (by delivery month, category, market, rate,
    tier, billable), the charges per day and the messages per day (the chart).

    ``fingerprint`` is what the charges were priced with (rates, markets,
    policies, currency, zone); another one means a full resync. Empty: never
    synced, resync in full. ``moved``: a billing run moved unbilled charges onto
    an invoice since the last sync; the sums are read again from the unbilled
    charges (which the run did not change), no charge is rebuilt.
    """

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="usage_snapshot"
    )
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    groups = models.JSONField(default=list)
    days = models.JSONField(default=dict)
    activity = models.JSONField(default=dict)
    activity_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    moved = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("month so far")
        verbose_name_plural = _("months so far")

    def __str__(self) -> str:
        return f"{self.company_id} as of {self.synced_at}"
