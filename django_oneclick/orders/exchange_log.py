"""The redacted log of every call to a provider, written as it happens."""

from __future__ import annotations

import logging
from dataclasses import asdict

from django.utils import timezone

from django_oneclick.domain.states import FINAL
from django_oneclick.domain.types import Exchange
from django_oneclick.models import OneClickOrder, ProviderExchange

logger = logging.getLogger("django_oneclick")


class OrderExchangeLog:
    """Writes each provider exchange of one order as it happens (autocommit)."""

    def __init__(self, order: OneClickOrder | None, provider: str) -> None:
        self.order = order
        self.provider = provider

    def record(self, exchange: Exchange) -> None:
        ProviderExchange.objects.create(order=self.order, provider=self.provider, **asdict(exchange))
        logger.info(
            "%s.%s -> %s (%s, %d ms)",
            self.provider,
            exchange.operation,
            exchange.outcome,
            exchange.http_status,
            exchange.duration_ms,
        )

    def progress(self, step: str) -> None:
        """Show how far the provider's call got on the order, at once (autocommit)."""
        if self.order is None:
            return
        unsettled = OneClickOrder.objects.filter(pk=self.order.pk).exclude(status__in=FINAL)
        unsettled.update(progress=step, updated_at=timezone.now())
        self.order.progress = step
        logger.info("order %s: %s", self.order.public_id, step)

