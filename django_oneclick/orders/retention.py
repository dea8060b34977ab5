"""Retention: the exchange log of provider calls is pruned after a while; orders never are, nor
the operators' audit entries (settling by hand, late charges)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from django_oneclick.domain.codes import AuditOperation
from django_oneclick.models import ProviderExchange

#: Rows deleted per statement, so that a first prune of a large table holds no long lock.
BATCH = 1000


def prune_exchanges(older_than: timedelta) -> int:
    """Delete provider exchanges recorded more than ``older_than`` ago; returns how many."""
    cutoff = timezone.now() - older_than
    stale = ProviderExchange.objects.filter(created_at__lt=cutoff).exclude(operation__in=list(AuditOperation))
    deleted = 0
    while True:
        batch = list(stale.values_list("pk", flat=True)[:BATCH])
        if not batch:
            return deleted
        deleted += ProviderExchange.objects.filter(pk__in=batch).delete()[0]
