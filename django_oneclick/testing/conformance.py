"""The money rules, checked for a provider against its fake: a conformance suite shops can run too.

A :class:`ProviderProfile` says, for one provider and its fake server, how to start the fake, which
``ONECLICK["PROVIDERS"]`` options point the provider at it, what to buy with which saved method (and
buyer), how to tell a purchase among the requests the fake received, which failures the fake can be
made to answer (:class:`Failure`: the trigger, then the states and error code it must end in) and
what status refreshes make of a lost purchase answer (:class:`Expected`). Each scenario runs through
:func:`django_oneclick.orders.place_order` and :func:`~django_oneclick.orders.refresh_order` and
returns what it observed (:class:`Outcome`: the order's states, its error code, the purchase requests
the fake received, the provider order ids our orders hold and the orders the provider holds):

- :func:`purchase_completes`: a purchase completes (an asynchronous one on a status refresh);
- :func:`documented_failure`: a failure ends in its defined state and error code;
- :func:`after_send_fault`: the fake acts on the purchase and its answer is lost (``timeout``,
  ``drop``, ``malformed``, ``gateway_error``), then status refreshes reconcile the order;
- :func:`lost_answer_reconciled`: the same, and the customer clicks again meanwhile;
- :func:`same_product_twice`: the product bought again, that second answer lost.

An order still unsettled after the refreshes is refreshed again once the soonest "never placed"
verdict is allowed (``created_at`` moved back past ``max(NOT_FOUND_AFTER, purchase_timeout)``; the
states show ``wait``). Scenarios need the database (a pytest-django ``django_db`` test); each runs
in a transaction it rolls back and sets ``settings.ONECLICK`` (with its own product and buyer
resolvers) only while it runs, one at a time per process. :func:`render_table` makes the README's
table of them; ``tests/test_conformance.py`` holds the assertions.

**A shop's own provider.** Subclass :class:`ProviderProfile` beside your provider and its fake (a
:class:`~django_oneclick.testing.server.FakeProviderServer`, so the transport faults come free):
``name``, ``backend``, ``offer``, ``lost_answer`` (what your lookup makes of a lost answer), the
``failures`` your provider documents, and :meth:`~ProviderProfile.start_fake`,
:meth:`~ProviderProfile.save_method`, :meth:`~ProviderProfile.is_purchase` and
:meth:`~ProviderProfile.provider_orders`. Then run the scenarios in ``django_db`` tests and assert
the rules on their outcomes, as ``tests/test_conformance.py`` does for the built-in providers::

    class AcmeProfile(cf.ProviderProfile):  # from django_oneclick.testing import conformance as cf
        name, backend = "acme", "shop.payments.AcmeProvider"
        offer = Offer("acme-book", "A book", Decimal("19.99"), "EUR")
        lost_answer = cf.Expected(("unknown", "completed"))  # found again by our order id
        failures = {"declined": cf.Failure(lambda run: run.fake.decline_next(), cf.Expected(("failed",), "declined"))}

        def start_fake(self): return AcmeFake().start()
        def save_method(self, run): return run.save_method(MethodDetails("tok_4242", "Acme card"))
        def is_purchase(self, request): return request.method == "POST" and request.path == "/v1/charges"
        def provider_orders(self, run): return list(run.fake.charges)

    @pytest.mark.django_db
    @pytest.mark.parametrize("fault", cf.AFTER_SEND_FAULTS)
    def test_a_lost_answer_is_unknown_then_found_never_resent(fault):
        outcome = cf.after_send_fault(AcmeProfile(), fault)
        assert (outcome.states[0], outcome.purchases_sent, outcome.final) == ("unknown", 1, AcmeProfile.lost_answer)
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from django_oneclick.models import OneClickOrder, PaymentMethod
from django_oneclick.offers import Offer
from django_oneclick.orders import place_order, refresh_order, save_payment_method
from django_oneclick.providers.base import Buyer, MethodDetails
from django_oneclick.providers.registry import get_provider

#: Faults after the request was sent: the fake acted on the purchase, its answer never arrives.
AFTER_SEND_FAULTS = ("timeout", "drop", "malformed", "gateway_error")
#: The mark in :attr:`Outcome.states` where the order was aged past the "never placed" verdict time.
WAIT = "wait"
UNSETTLED = ("processing", "requires_action", "unknown")


@dataclass(frozen=True)
class Expected:
    """What must become of an order: its states in order (``wait`` included), error code and
    how many candidates an operator is shown."""

    states: tuple[str, ...]
    error_code: str = ""
    candidates: int = 0


@dataclass(frozen=True)
class Failure:
    """A failure the fake can be made to answer. ``trigger(run)`` arranges it before the purchase;
    the order must end as ``expected``. ``purchases_sent`` is 0 when the provider refuses before
    the purchase request (e.g. a reference check); ``provider_orders`` is 1 when the provider
    keeps the refused order (a charge declined after the order was created, a failed intent).
    ``documented`` is False for an answer the provider does not document (e.g. a redirect): it
    may never end ``failed`` but on the provider's later word (``not_placed``)."""

    trigger: Callable[[Run], None]
    expected: Expected
    purchases_sent: int = 1
    provider_orders: int = 0
    documented: bool = True


class ProviderProfile:
    """One provider with its fake, as the scenarios need it; subclass it for each provider."""

    #: The provider's name in ``ONECLICK["PROVIDERS"]`` and its backend's dotted path.
    name: ClassVar[str] = ""
    backend: ClassVar[str] = ""
    #: Column title of the README table.
    title: ClassVar[str] = ""
    #: What the customer buys (the scenarios' product resolver offers only this).
    offer: ClassVar[Offer]
    #: The purchase's states until it completes: ("completed",) or ("processing", "completed").
    purchase_states: ClassVar[tuple[str, ...]] = ("completed",)
    #: After-send faults this fake can produce (an in-process provider may have fewer).
    after_send_faults: ClassVar[tuple[str, ...]] = AFTER_SEND_FAULTS
    #: What status refreshes make of an order whose purchase answer was lost.
    lost_answer: ClassVar[Expected]
    #: Documented failures by name, and the one the README table shows.
    failures: ClassVar[Mapping[str, Failure]] = {}
    table_failure: ClassVar[str] = ""
    #: The most status refreshes one reconciliation makes before (and after) the wait.
    max_refreshes: ClassVar[int] = 4
    #: The seconds a fake hangs on a "timeout" fault; must exceed the provider's read timeout.
    hang_seconds: ClassVar[float] = 1.0

    # -- what a profile implements

    def start_fake(self) -> Any:
        """The started fake server (stopped with ``stop()`` after the scenario), or None."""
        raise NotImplementedError

    def provider_options(self, fake: Any) -> dict[str, Any]:
        """The provider's options against the fake: short timeouts, and no extra wait for a
        "never placed" verdict beyond the purchase timeout (the fakes record orders at once)."""
        return {**fake.provider_options(), "READ_TIMEOUT": 0.5, "NOT_FOUND_AFTER": 0}

    def save_method(self, run: Run) -> PaymentMethod:
        """The customer's saved method (the default), usually ``run.save_method(details)``."""
        raise NotImplementedError

    def buyer(self, user: Any) -> Buyer | None:
        """The customer's address, for providers that ship goods."""
        return Buyer("Ada", "Lovelace", user.email, "+12125551234", "1 Main Street", "New York", "NY", "10001", "US")

    def is_purchase(self, request: Any) -> bool:
        """Whether a request the fake received is a purchase (what may charge)."""
        raise NotImplementedError

    def purchases_sent(self, run: Run) -> int:
        return sum(1 for request in list(run.fake.requests) if self.is_purchase(request))

    def provider_orders(self, run: Run) -> list[str]:
        """The ids of the orders the provider holds, as our orders record them once settled."""
        raise NotImplementedError

    def inject_fault(self, run: Run, fault: str) -> None:
        """Make the next purchase meet ``fault`` after the fake acted on it."""
        run.fake.hang_seconds = self.hang_seconds
        run.fake.fail_next(fault, when=self.is_purchase)

    def make_customer(self) -> Any:
        tag = uuid.uuid4().hex[:10]
        return get_user_model().objects.create_user(f"conformance-{tag}", f"ada.{tag}@example.com", None)

    # -- running a scenario

    @contextmanager
    def running(self) -> Iterator[Run]:
        global _active
        fake = self.start_fake()
        try:
            provider = {"BACKEND": self.backend, **self.provider_options(fake)}
            oneclick = {
                **getattr(settings, "ONECLICK", {}),
                "PRODUCT_RESOLVER": f"{__name__}.offer_for",
                "BUYER_RESOLVER": f"{__name__}.buyer_for",
                "PROVIDERS": {self.name: provider},
                "STATUS_REFRESH_INTERVAL": timedelta(0),
            }
            # Rolled back at the end: a scenario leaves nothing behind (fakes reuse their ids).
            with override_settings(ONECLICK=oneclick), transaction.atomic():
                run = Run(self, fake, self.make_customer())
                _active = run
                try:
                    self.save_method(run)
                    yield run
                finally:
                    _active = None
                    transaction.set_rollback(True)
        finally:
            if fake is not None:
                # Stopping waits for the server loop's next poll (up to half a second): not here.
                threading.Thread(target=fake.stop, name=f"stop {self.name} fake", daemon=True).start()


_active: Run | None = None


def offer_for(reference: str) -> Offer | None:
    """The product resolver while a scenario runs: the profile's one offer."""
    offer = _active.profile.offer if _active else None
    return offer if offer is not None and offer.reference == reference else None


def buyer_for(user: Any) -> Buyer | None:
    return _active.profile.buyer(user) if _active else None


@dataclass
class Run:
    """One scenario under way: the profile, its started fake, the customer, their orders."""

    profile: ProviderProfile
    fake: Any
    customer: Any
    orders: list[OneClickOrder] = field(default_factory=list)
    states: dict[int, list[str]] = field(default_factory=dict)

    def save_method(self, details: MethodDetails) -> PaymentMethod:
        """Save ``details`` for the customer as their default method."""
        return save_payment_method(self.customer, self.profile.name, details, make_default=True)

    def buy(self, idempotency_key: str | None = None) -> OneClickOrder:
        """One click on the profile's product with the default method (a key again is the same click)."""
        placed = place_order(
            user=self.customer,
            product=self.profile.offer.reference,
            quantity=1,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            customer_ip="127.0.0.1",
        )
        if placed.created:
            self.orders.append(placed.order)
            self.states[placed.order.pk] = [placed.order.status]
        return placed.order

    def refresh(self, order: OneClickOrder) -> None:
        refresh_order(order)
        if order.status != self.states[order.pk][-1]:
            self.states[order.pk].append(order.status)

    def reconcile(self, order: OneClickOrder) -> None:
        """Status refreshes until the order is settled; if it is not, again after the wait."""
        for attempt in range(2 * self.profile.max_refreshes):
            if order.status not in UNSETTLED:
                return
            if attempt == self.profile.max_refreshes:
                self.age_past_verdict(order)
            self.refresh(order)

    def age_past_verdict(self, order: OneClickOrder) -> None:
        """Move ``created_at`` back just past the soonest "never placed" verdict,
        ``max(NOT_FOUND_AFTER, purchase_timeout)``: the provider's records keep their real time."""
        provider = get_provider(order.provider)
        age = max(provider.not_found_after, provider.purchase_timeout) + timedelta(seconds=1)
        created_at = timezone.now() - age
        OneClickOrder.objects.filter(pk=order.pk).update(created_at=created_at)
        order.created_at = created_at
        self.states[order.pk].append(WAIT)

    def outcome(self) -> Outcome:
        for order in self.orders:
            order.refresh_from_db()
        return Outcome(
            orders=tuple(
                OrderOutcome(
                    tuple(self.states[o.pk]),
                    o.error_code,
                    o.provider_order_id,
                    tuple(c["provider_order_id"] for c in o.candidates),
                )
                for o in self.orders
            ),
            purchases_sent=self.profile.purchases_sent(self),
            provider_orders=tuple(self.profile.provider_orders(self)),
        )


@dataclass(frozen=True)
class OrderOutcome:
    """One order of a scenario: its states, error code, provider order id, candidates shown."""

    states: tuple[str, ...]
    error_code: str
    provider_order_id: str
    candidates: tuple[str, ...]

    @property
    def final(self) -> Expected:
        return Expected(self.states, self.error_code, len(self.candidates))


@dataclass(frozen=True)
class Outcome:
    """What a scenario observed: every order it placed (``states``, ``status``, ``error_code`` and
    ``final`` are those of the last, the one it is about), the purchase requests the provider
    received, and the ids of the orders the provider holds."""

    orders: tuple[OrderOutcome, ...]
    purchases_sent: int
    provider_orders: tuple[str, ...]

    states = property(lambda self: self.orders[-1].states)
    status = property(lambda self: self.orders[-1].states[-1])
    error_code = property(lambda self: self.orders[-1].error_code)
    final = property(lambda self: self.orders[-1].final)

    @property
    def provider_order_ids(self) -> tuple[str, ...]:
        """The provider order ids our orders hold (never one twice, says the money rule)."""
        return tuple(o.provider_order_id for o in self.orders if o.provider_order_id)


# --- the scenarios ------------------------------------------------------------------------------


def purchase_completes(profile: ProviderProfile) -> Outcome:
    with profile.running() as run:
        run.reconcile(run.buy())
        return run.outcome()


def documented_failure(profile: ProviderProfile, name: str) -> Outcome:
    with profile.running() as run:
        profile.failures[name].trigger(run)
        run.reconcile(run.buy())
        return run.outcome()


def after_send_fault(profile: ProviderProfile, fault: str) -> Outcome:
    with profile.running() as run:
        profile.inject_fault(run, fault)
        run.reconcile(run.buy())
        return run.outcome()


def lost_answer_reconciled(profile: ProviderProfile, fault: str = "timeout") -> Outcome:
    """The answer is lost; the customer clicks again (the same Idempotency-Key): the same order
    comes back and nothing is sent; then status refreshes reconcile it."""
    with profile.running() as run:
        profile.inject_fault(run, fault)
        key = str(uuid.uuid4())
        order = run.buy(key)
        run.buy(key)  # another order would show in the outcome's ``orders``
        run.reconcile(order)
        return run.outcome()


def same_product_twice(profile: ProviderProfile, fault: str = "timeout") -> Outcome:
    """The customer buys the product, then buys it again and that answer is lost: the second
    order is reconciled without ever taking the first one's provider order."""
    with profile.running() as run:
        run.reconcile(run.buy())
        profile.inject_fault(run, fault)
        run.reconcile(run.buy())
        return run.outcome()


# --- the README table ---------------------------------------------------------------------------

def _table_fault(profile: ProviderProfile, *, fault: str) -> Outcome | None:
    return after_send_fault(profile, fault) if fault in profile.after_send_faults else None


def _table_decline(profile: ProviderProfile) -> Outcome | None:
    return documented_failure(profile, profile.table_failure) if profile.table_failure else None


#: Rows of the table: label -> the scenario producing the cell (None where it does not apply).
TABLE_ROWS: dict[str, Callable[[ProviderProfile], Outcome | None]] = {
    "none: a purchase": purchase_completes,
    "a documented decline": _table_decline,
    **{
        label: functools.partial(_table_fault, fault=fault)
        for fault, label in (
            ("timeout", "timeout after sending"),
            ("drop", "connection dropped after sending"),
            ("malformed", "malformed answer after acting"),
            ("gateway_error", "gateway 503 after acting"),
        )
    },
    "timeout, then the same click again": lost_answer_reconciled,
    "same product twice, the 2nd answer lost": same_product_twice,
}
TABLE_START = "<!-- conformance-table:start -->"
TABLE_END = "<!-- conformance-table:end -->"


def cell(outcome: Outcome | None) -> str:
    """``unknown → completed (1)``: the order's states, then the purchase requests the provider got."""
    if outcome is None:
        return "n/a"
    states = " → ".join(outcome.states)
    details = [outcome.error_code] if outcome.status in (*UNSETTLED, "failed") and outcome.error_code else []
    if outcome.final.candidates:
        details.append(f"{outcome.final.candidates} candidate" + "s" * (outcome.final.candidates > 1))
    detail = " `" + ", ".join(details) + "`" if details else ""
    return f"{states}{detail} ({outcome.purchases_sent})"


def table_outcomes(profiles: list[ProviderProfile]) -> dict[str, dict[str, Outcome | None]]:
    return {row: {profile.name: scenario(profile) for profile in profiles} for row, scenario in TABLE_ROWS.items()}


def render_table(profiles: list[ProviderProfile], outcomes: dict[str, dict[str, Outcome | None]]) -> str:
    """The Markdown table "fault × provider → final state (purchases sent)"."""
    lines = [
        "| fault | " + " | ".join(p.title or p.name for p in profiles) + " |",
        "|---|" + "---|" * len(profiles),
    ]
    lines += [f"| {row} | " + " | ".join(cell(outcomes[row][p.name]) for p in profiles) + " |" for row in outcomes]
    return "\n".join(lines) + "\n"


def replace_table(text: str, table: str) -> str:
    """``text`` (the README) with the block between the table markers replaced by ``table``."""
    start = text.index(TABLE_START) + len(TABLE_START)
    return f"{text[:start]}\n{table}{text[text.index(TABLE_END, start) :]}"


def table_in(text: str) -> str:
    """The table between the markers of ``text``."""
    start = text.index(TABLE_START) + len(TABLE_START) + 1
    return text[start : text.index(TABLE_END, start)]
