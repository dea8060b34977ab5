"""Bring unsettled orders to a final state from cron, for shops without a task worker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_oneclick.orders import refresh_order, unsettled_orders


class Command(BaseCommand):
    help = "Ask the providers where unsettled one-click orders stand (processing, unknown, interrupted)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", help="Only orders of this provider.")
        parser.add_argument("--limit", type=int, default=500, help="At most this many orders per run.")

    def handle(self, *args: Any, provider: str | None = None, limit: int = 500, **options: Any) -> None:
        orders = unsettled_orders().order_by("created_at")
        if provider:
            orders = orders.filter(provider=provider)
        counts: dict[str, int] = {}
        for order in orders[:limit]:
            refresh_order(order)
            counts[order.status] = counts.get(order.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
        self.stdout.write(f"Refreshed {sum(counts.values())} order(s): {summary}.")
