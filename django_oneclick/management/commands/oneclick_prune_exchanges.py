"""Delete old provider exchanges (never orders, never the operators' audit entries)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_oneclick.conf import oneclick_settings
from django_oneclick.orders.retention import prune_exchanges


class Command(BaseCommand):
    help = "Delete provider exchanges older than ONECLICK['EXCHANGE_RETENTION_DAYS'] (or --days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Keep this many days (default: EXCHANGE_RETENTION_DAYS).")

    def handle(self, *args: Any, days: int | None = None, **options: Any) -> None:
        keep = oneclick_settings.EXCHANGE_RETENTION_DAYS if days is None else days
        if not isinstance(keep, int) or keep < 1:
            raise CommandError("Keep at least one day of exchanges (--days or EXCHANGE_RETENTION_DAYS).")
        deleted = prune_exchanges(timedelta(days=keep))
        self.stdout.write(f"Deleted {deleted} provider exchange(s) older than {keep} day(s).")
