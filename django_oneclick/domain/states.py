"""What an order's status may be and which status may follow which: the state machine, once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    REQUIRES_ACTION = "requires_action", _("Requires action")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown")


S = OrderStatus
#: Which status may follow which. Final states have no way out.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED, S.UNKNOWN}),
    S.PROCESSING: frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED, S.UNKNOWN}),
    S.REQUIRES_ACTION: frozenset({S.REQUIRES_ACTION, S.PROCESSING, S.COMPLETED, S.FAILED, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.UNKNOWN, S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
}
#: Orders a provider has not settled yet: asked about again, never sent again.
UNSETTLED = frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.UNKNOWN})
FINAL = frozenset({S.COMPLETED, S.FAILED})
