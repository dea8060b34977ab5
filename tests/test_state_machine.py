"""The order state machine: every transition allowed and refused, compare-and-set, signals."""

from decimal import Decimal

import pytest

from django_oneclick import signals
from django_oneclick.domain.errors import InvalidTransition
from django_oneclick.domain.states import TRANSITIONS
from django_oneclick.models import OneClickOrder, OrderStatus
from django_oneclick.orders import transition
from tests.conftest import add_method

S = OrderStatus
ALL = [s.value for s in S]

# Written out from the specification rather than read from TRANSITIONS, so that a
# wrong table in the code fails here. Final states have no way out; nothing goes back to pending.
EXPECTED = {
    S.PENDING: {S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED, S.UNKNOWN},
    S.PROCESSING: {S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED, S.UNKNOWN},
    S.REQUIRES_ACTION: {S.REQUIRES_ACTION, S.PROCESSING, S.COMPLETED, S.FAILED, S.UNKNOWN},
    S.UNKNOWN: {S.UNKNOWN, S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED},
    S.COMPLETED: set(),
    S.FAILED: set(),
}
PAIRS = [(a, b) for a in ALL for b in ALL]
ALLOWED = [(a, b) for a, b in PAIRS if b in EXPECTED[a]]
REFUSED = [(a, b) for a, b in PAIRS if b not in EXPECTED[a]]


def make_order(owner, status=S.PENDING, key="key-1"):
    """An order in a given state, written directly (the state machine is what is under test)."""
    method = add_method(owner, "approved", default=False)
    return OneClickOrder.objects.create(
        owner=owner,
        payment_method=method,
        payment_label=method.label,
        provider="sandbox",
        product_reference="book",
        product_title="A good book",
        provider_product_id="book",
        quantity=1,
        unit_price=Decimal("19.99"),
        total=Decimal("19.99"),
        currency="EUR",
        status=status,
        idempotency_key=key,
        request_fingerprint="0" * 64,
    )


@pytest.fixture
def received():
    """Every signal sent during the test, as (signal name, order pk, previous status)."""
    events = []
    receivers = {}
    for name in ("order_status_changed", "order_completed", "order_failed"):

        def receiver(sender, order, previous_status, _name=name, **kwargs):
            events.append((_name, order.pk, previous_status))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def test_table_in_code_matches_specification():
    assert {k: set(v) for k, v in TRANSITIONS.items()} == EXPECTED
    assert set(TRANSITIONS) == set(ALL)


def test_nothing_leads_back_to_pending():
    assert all(S.PENDING not in targets for targets in TRANSITIONS.values())


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_allowed_transition_is_written(customer, current, new):
    order = make_order(customer, current)
    assert transition(order, new, error_code="x-code") is True
    stored = OneClickOrder.objects.get(pk=order.pk)
    assert stored.status == new
    assert stored.error_code == "x-code"
    assert order.status == new


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "new"), REFUSED)
def test_refused_transition_raises_and_writes_nothing(customer, current, new, received):
    order = make_order(customer, current)
    with pytest.raises(InvalidTransition):
        transition(order, new, error_code="x-code")
    stored = OneClickOrder.objects.get(pk=order.pk)
    assert stored.status == current
    assert stored.error_code == ""
    assert received == []


@pytest.mark.django_db
def test_stale_copy_cannot_overwrite(customer, received):
    order = make_order(customer, S.PROCESSING)
    first = OneClickOrder.objects.get(pk=order.pk)
    stale = OneClickOrder.objects.get(pk=order.pk)

    assert transition(first, S.COMPLETED, provider_order_id="P-1") is True
    assert transition(stale, S.FAILED, error_code="late") is False

    stored = OneClickOrder.objects.get(pk=order.pk)
    assert (stored.status, stored.provider_order_id, stored.error_code) == (S.COMPLETED, "P-1", "")
    # The loser was reloaded, so it now shows what really happened.
    assert (stale.status, stale.provider_order_id) == (S.COMPLETED, "P-1")
    assert [e[0] for e in received] == ["order_status_changed", "order_completed"]


@pytest.mark.django_db
def test_completed_signal_fires_once_even_when_two_copies_complete(customer, received):
    order = make_order(customer, S.UNKNOWN)
    a = OneClickOrder.objects.get(pk=order.pk)
    b = OneClickOrder.objects.get(pk=order.pk)
    assert transition(a, S.COMPLETED) is True
    assert transition(b, S.COMPLETED) is False
    assert received == [
        ("order_status_changed", order.pk, S.UNKNOWN),
        ("order_completed", order.pk, S.UNKNOWN),
    ]


@pytest.mark.django_db
def test_failed_signal_fires_once(customer, received):
    order = make_order(customer, S.REQUIRES_ACTION)
    stale = OneClickOrder.objects.get(pk=order.pk)
    assert transition(order, S.FAILED, error_code="declined") is True
    assert transition(stale, S.FAILED, error_code="declined") is False
    with pytest.raises(InvalidTransition):
        transition(order, S.FAILED)
    assert received == [
        ("order_status_changed", order.pk, S.REQUIRES_ACTION),
        ("order_failed", order.pk, S.REQUIRES_ACTION),
    ]


@pytest.mark.django_db
def test_staying_in_a_state_sends_no_signal(customer, received):
    order = make_order(customer, S.PROCESSING)
    assert transition(order, S.PROCESSING, progress="shipping") is True
    assert OneClickOrder.objects.get(pk=order.pk).progress == "shipping"
    assert received == []


@pytest.mark.django_db
def test_signal_receiver_sees_the_new_state(customer):
    order = make_order(customer, S.PENDING)
    seen = []

    def receiver(sender, order, previous_status, **kwargs):
        seen.append((order.status, order.provider_order_id, previous_status))

    signals.order_completed.connect(receiver, weak=False)
    try:
        transition(order, S.COMPLETED, provider_order_id="P-9")
    finally:
        signals.order_completed.disconnect(receiver)
    assert seen == [(S.COMPLETED, "P-9", S.PENDING)]
