"""The overview's figures, each a bounded aggregate over indexed columns, whatever the number of
orders: counts and revenue by a ``created_at`` range (indexed), latency percentiles ranked in the
database over the purchases of those orders (joined on the exchange's order key), and the
attention queue by ``status`` (indexed) and the ``late_charge`` partial index.

A fixed number of queries: :data:`QUERIES`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, DecimalField, F, Q, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.states import UNSETTLED, S
from django_oneclick.models import OneClickOrder, ProviderExchange

#: The exchange operations that are the purchase call of an order, by provider: ``purchase``
#: (sandbox, Rye, Billerix, Digital River), ``place_order`` (Firmly), ``placeOrder`` (2Checkout).
PURCHASE_OPERATIONS = ("purchase", "place_order", "placeOrder")
#: The statuses in the order they are shown.
STATUSES: list[str] = [s.value for s in (S.COMPLETED, S.FAILED, S.UNKNOWN, S.PROCESSING, S.REQUIRES_ACTION, S.PENDING)]
#: The queries :func:`overview_figures` makes.
QUERIES = 7
CENT = Decimal("0.01")
#: How many orders the attention queue lists (the counts cover them all).
ATTENTION_LIMIT = 50


@dataclass(frozen=True)
class Span:
    key: str
    label: str
    since: datetime


@dataclass
class Tally:
    """Orders of one window (or one provider in it) by status, with the success rate."""

    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def settled(self) -> int:
        return self.by_status[S.COMPLETED] + self.by_status[S.FAILED]

    @property
    def success_rate(self) -> float | None:
        """Completed out of settled (completed or failed), in percent; ``None`` when none settled."""
        return 100 * self.by_status[S.COMPLETED] / self.settled if self.settled else None


@dataclass(frozen=True)
class Latency:
    purchases: int
    median_ms: int
    p95_ms: int


@dataclass
class ProviderFigures:
    name: str
    tallies: dict[str, Tally]
    latency: dict[str, Latency | None]


@dataclass(frozen=True)
class Attention:
    order: OneClickOrder
    reasons: list[str]


@dataclass
class Figures:
    now: datetime
    windows: list[Span]
    tallies: dict[str, Tally]
    providers: list[ProviderFigures]
    #: currency -> window key -> completed revenue (what the provider charged where it says, else the total).
    revenue: dict[str, dict[str, Decimal]]
    #: The days of the longest window, oldest first, with their orders by status.
    days: list[tuple[date, dict[str, int]]]
    attention: list[Attention]
    attention_counts: dict[str, int]
    stuck_after: timedelta


#: Attention reasons: key -> label.
REASONS = {
    "unknown": "Outcome unknown",
    "gave_up": "Background refresh gave up",
    "stuck": "Stuck in processing",
    "late_charge": "Late charge",
}


def windows(now: datetime) -> list[Span]:
    """The last 24 hours, and the last 7 days: today (local time) and the 6 days before."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        Span("day", "Last 24 hours", now - timedelta(hours=24)),
        Span("week", "Last 7 days", today - timedelta(days=6)),
    ]


def overview_figures(*, now: datetime | None = None, stuck_after: timedelta = timedelta(hours=1)) -> Figures:
    now = now or timezone.now()
    spans = windows(now)
    week = min(spans, key=lambda w: w.since)
    tallies = {w.key: Tally() for w in spans}
    by_provider: dict[str, dict[str, Tally]] = defaultdict(lambda: {w.key: Tally() for w in spans})
    revenue: dict[str, dict[str, Decimal]] = defaultdict(lambda: {w.key: Decimal(0) for w in spans})
    starts = [week.since + timedelta(days=i) for i in range(8)]  # local midnights: 7 days and the end
    day_list = [start.date() for start in starts[:7]]
    days: dict[date, dict[str, int]] = {d: dict.fromkeys(STATUSES, 0) for d in day_list}

    charged = Coalesce("charged_total", "total", output_field=DecimalField(max_digits=14, decimal_places=2))
    completed = Q(status=S.COMPLETED)
    # Plain comparisons of the indexed column: no date function per row.
    annotations: dict[str, Any] = {}
    for w in spans:
        annotations[f"n_{w.key}"] = Count("pk", filter=Q(created_at__gte=w.since))
        annotations[f"revenue_{w.key}"] = Sum(charged, filter=Q(created_at__gte=w.since) & completed)
    for i in range(7):
        annotations[f"day_{i}"] = Count("pk", filter=Q(created_at__gte=starts[i], created_at__lt=starts[i + 1]))
    rows = (
        OneClickOrder.objects.filter(created_at__gte=week.since)
        .values("provider", "status", "currency")
        .annotate(**annotations)
        .order_by()
    )
    for row in cast(Iterable[dict[str, Any]], rows):  # the keys are annotations made above
        status = row["status"]
        for w in spans:
            count = row[f"n_{w.key}"]
            tallies[w.key].by_status[status] = tallies[w.key].by_status.get(status, 0) + count
            by_provider[row["provider"]][w.key].by_status[status] += count
            if row[f"revenue_{w.key}"]:
                revenue[row["currency"]][w.key] += row[f"revenue_{w.key}"]
        for i, day in enumerate(day_list):
            days[day][status] = days[day].get(status, 0) + row[f"day_{i}"]

    latencies = {w.key: purchase_latencies(w.since) for w in spans}
    providers = sorted(set(by_provider) | {name for lat in latencies.values() for name in lat})
    attention, counts = attention_queue(now, stuck_after)
    return Figures(
        now=now,
        windows=spans,
        tallies=tallies,
        providers=[
            ProviderFigures(name, by_provider[name], {w.key: latencies[w.key].get(name) for w in spans})
            for name in providers
        ],
        revenue={c: {k: v.quantize(CENT) for k, v in amounts.items()} for c, amounts in sorted(revenue.items())},
        days=[(d, days[d]) for d in day_list],
        attention=attention,
        attention_counts=counts,
        stuck_after=stuck_after,
    )


def purchase_latencies(since: datetime) -> dict[str, Latency]:
    """Median and 95th percentile (nearest rank) of the purchase calls of the orders placed since
    ``since``, per provider: ranked in the database, two rows per provider come back."""
    ranked = (
        ProviderExchange.objects.filter(operation__in=PURCHASE_OPERATIONS, order__created_at__gte=since)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("provider")], order_by=[F("duration_ms").asc(), F("pk").asc()]),
            purchases=Window(Count("pk"), partition_by=[F("provider")]),
        )
        .filter(Q(rank=(F("purchases") * 50 + 99) / 100) | Q(rank=(F("purchases") * 95 + 99) / 100))
        .values_list("provider", "purchases", "rank", "duration_ms")
    )
    found: dict[str, dict[int, int]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    for provider, purchases, rank, duration in ranked:
        found[provider][rank] = duration
        sizes[provider] = purchases
    return {
        provider: Latency(n, found[provider][nearest_rank(n, 50)], found[provider][nearest_rank(n, 95)])
        for provider, n in sizes.items()
    }


def nearest_rank(n: int, percent: int) -> int:
    """The rank (1-based) of the ``percent``-th percentile of ``n`` sorted values."""
    return (n * percent + 99) // 100


def attention_queue(now: datetime, stuck_after: timedelta) -> tuple[list[Attention], dict[str, int]]:
    """Orders an operator must look at, oldest first, and how many there are for each reason, in
    four queries an index serves: the unsettled ones by ``status`` (unknown, gave up, stuck), the
    late charges by the partial index on ``late_charge``."""
    stuck_before = now - max(stuck_after, oneclick_settings.STALE_PENDING_AFTER)
    by_status = {
        "unknown": Q(status=S.UNKNOWN),
        "gave_up": Q(error_code=ErrorCode.REFRESH_GAVE_UP),
        "stuck": Q(status__in=[S.PROCESSING, S.PENDING], created_at__lt=stuck_before),
    }
    needing = Q()
    for condition in by_status.values():
        needing |= condition
    unsettled = OneClickOrder.objects.filter(needing, status__in=[*UNSETTLED, S.PENDING])
    late = OneClickOrder.objects.filter(late_charge=True)
    counts = unsettled.aggregate(**{key: Count("pk", filter=condition) for key, condition in by_status.items()})
    counts["late_charge"] = late.count()
    listed = {
        order.pk: order
        for queryset in (unsettled, late)
        for order in queryset.select_related("owner").order_by("created_at", "pk")[:ATTENTION_LIMIT]
    }
    oldest_first = sorted(listed.values(), key=lambda order: (order.created_at, order.pk))[:ATTENTION_LIMIT]
    return [Attention(order, reasons_for(order, stuck_before)) for order in oldest_first], counts


def reasons_for(order: OneClickOrder, stuck_before: datetime) -> list[str]:
    reasons = []
    if order.status == S.UNKNOWN:
        reasons.append("unknown")
    if order.status in UNSETTLED and order.error_code == ErrorCode.REFRESH_GAVE_UP:
        reasons.append("gave_up")
    if order.status in (S.PROCESSING, S.PENDING) and order.created_at < stuck_before:
        reasons.append("stuck")
    if order.late_charge:
        reasons.append("late_charge")
    return reasons
