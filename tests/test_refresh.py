"""Settling orders after the purchase call: refresh_order, unsettled_orders and retry_order."""

import logging
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from django_oneclick import signals
from django_oneclick.domain.errors import InvalidTransition
from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from django_oneclick.orders import place_order, refresh_order, retry_order, unsettled_orders
from django_oneclick.providers.base import ProviderUnavailable
from django_oneclick.providers.sandbox import SandboxProvider
from tests.conftest import add_method


def place(user, key="k", product="book"):
    return place_order(user=user, product=product, quantity=1, idempotency_key=key).order


def fetches(order):
    return ProviderExchange.objects.filter(order=order, operation="fetch_status").count()


@pytest.fixture
def slow_async(settings):
    """An asynchronous sandbox order that stays processing for a minute."""
    sandbox = settings.ONECLICK["PROVIDERS"]["sandbox"]
    settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": {"sandbox": {**sandbox, "ASYNC_SECONDS": 60}}}


@pytest.fixture
def unreachable_status(monkeypatch):
    """The provider's status endpoint is down (the exchange is still recorded)."""

    def fetch_status(self, request, log):
        with self.exchange(log, "fetch_status", {"order_id": request.order_id}) as draft:
            draft.http_status = 503
            raise ProviderUnavailable("status endpoint answered 503")

    monkeypatch.setattr(SandboxProvider, "fetch_status", fetch_status)


@pytest.mark.django_db
def test_min_interval_skips_a_recent_check(customer, slow_async):
    add_method(customer, "async")
    order = place(customer)
    assert order.status == "processing"

    refresh_order(order, min_interval=timedelta(minutes=1))
    checked = OneClickOrder.objects.get(pk=order.pk).last_checked_at
    assert checked is not None
    refresh_order(order, min_interval=timedelta(minutes=1))
    assert fetches(order) == 1
    assert OneClickOrder.objects.get(pk=order.pk).last_checked_at == checked

    # Once the interval has passed, the provider is asked again.
    OneClickOrder.objects.filter(pk=order.pk).update(last_checked_at=timezone.now() - timedelta(minutes=2))
    order.refresh_from_db()
    refresh_order(order, min_interval=timedelta(minutes=1))
    assert fetches(order) == 2


@pytest.mark.django_db
def test_without_min_interval_every_call_asks(customer, slow_async):
    add_method(customer, "async")
    order = place(customer)
    for _ in range(3):
        refresh_order(order)
    assert fetches(order) == 3
    assert OneClickOrder.objects.get(pk=order.pk).status == "processing"


@pytest.mark.django_db
def test_refresh_completes_an_async_order_and_signals_once(customer):
    add_method(customer, "async")
    order = place(customer)
    completed = []

    def receiver(sender, order, **kwargs):
        completed.append(order.pk)

    signals.order_completed.connect(receiver, weak=False)
    try:
        refresh_order(order)
        refresh_order(order)
        refresh_order(OneClickOrder.objects.get(pk=order.pk))
    finally:
        signals.order_completed.disconnect(receiver)
    assert completed == [order.pk]
    assert order.status == "completed"
    assert fetches(order) == 1  # a final order is not asked about again


@pytest.mark.django_db
def test_unknown_order_the_provider_never_saw_fails_as_not_placed(customer):
    add_method(customer, "timeout")
    order = place(customer)
    assert (order.status, order.provider_order_id) == ("unknown", "")
    cache.clear()  # the sandbox "server" has no trace of it
    assert refresh_order(order).status == "unknown"  # its purchase might still be running

    OneClickOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    order.refresh_from_db()
    refreshed = refresh_order(order)
    stored = OneClickOrder.objects.get(pk=order.pk)
    assert (stored.status, stored.error_code) == ("failed", "not_placed")
    assert refreshed.status == "failed"
    assert ProviderExchange.objects.filter(order=order, operation="purchase").count() == 1
    assert [e.http_status for e in ProviderExchange.objects.filter(order=order, operation="fetch_status")] == [404, 404]


@pytest.mark.django_db
def test_unknown_order_the_provider_placed_completes(customer):
    add_method(customer, "timeout")
    order = place(customer)
    refresh_order(order)
    stored = OneClickOrder.objects.get(pk=order.pk)
    assert stored.status == "completed"
    assert stored.provider_order_id.startswith("SBX-")
    assert ProviderExchange.objects.filter(order=order, operation="purchase").count() == 1


@pytest.mark.django_db
def test_provider_error_counts_an_attempt_and_changes_nothing(customer, slow_async, unreachable_status, caplog):
    add_method(customer, "async")
    order = place(customer)
    caplog.set_level(logging.WARNING, logger="django_oneclick")

    refresh_order(order)
    refresh_order(order)

    stored = OneClickOrder.objects.get(pk=order.pk)
    assert (stored.status, stored.refresh_attempts) == ("processing", 2)
    assert order.refresh_attempts == 2
    assert list(
        ProviderExchange.objects.filter(order=order, operation="fetch_status").values_list("http_status", "outcome")
    ) == [(503, "provider_unavailable")] * 2
    assert "status fetch failed: status endpoint answered 503" in caplog.text


@pytest.mark.django_db
def test_attempts_are_counted_from_the_database_not_a_stale_copy(customer, slow_async, unreachable_status):
    add_method(customer, "async")
    order = place(customer)
    stale = OneClickOrder.objects.get(pk=order.pk)
    refresh_order(order)
    refresh_order(stale)
    assert OneClickOrder.objects.get(pk=order.pk).refresh_attempts == 2


@pytest.mark.django_db
def test_final_and_fresh_pending_orders_are_left_alone(customer):
    add_method(customer, "approved")
    completed = place(customer)
    refresh_order(completed)
    assert fetches(completed) == 0

    pending = place(customer, key="k2")
    OneClickOrder.objects.filter(pk=pending.pk).update(status="pending")
    pending.refresh_from_db()
    refresh_order(pending)
    assert OneClickOrder.objects.get(pk=pending.pk).status == "pending"
    assert fetches(pending) == 0


@pytest.mark.django_db
def test_stale_pending_is_reconciled_not_resent(customer):
    add_method(customer, "approved")
    order = place(customer)
    cache.clear()  # as if the process died before the provider got the request
    OneClickOrder.objects.filter(pk=order.pk).update(
        status="pending", provider_order_id="", created_at=timezone.now() - timedelta(minutes=6)
    )
    order.refresh_from_db()
    assert order in unsettled_orders()

    refresh_order(order)
    stored = OneClickOrder.objects.get(pk=order.pk)
    assert (stored.status, stored.error_code) == ("failed", "not_placed")
    assert ProviderExchange.objects.filter(order=order, operation="purchase").count() == 1
    assert order not in unsettled_orders()


@pytest.mark.django_db
def test_unsettled_orders(customer):
    add_method(customer, "async")
    processing = place(customer, key="a")
    PaymentMethod.objects.update(reference="approved")
    completed = place(customer, key="b")
    fresh_pending = place(customer, key="c")
    OneClickOrder.objects.filter(pk=fresh_pending.pk).update(status="pending")
    assert set(unsettled_orders()) == {processing}
    assert completed.status == "completed"


# --- retry ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_retry_twice_makes_one_new_order(customer):
    method = add_method(customer, "server_error")
    failed = place(customer)
    assert (failed.status, failed.error_code) == ("failed", "provider_unavailable")
    PaymentMethod.objects.filter(pk=method.pk).update(reference="approved")

    first = retry_order(failed)
    second = retry_order(failed)
    assert (first.created, second.created) == (True, False)
    assert first.order.pk == second.order.pk
    assert first.order.pk != failed.pk
    retried = OneClickOrder.objects.get(pk=first.order.pk)
    assert retried.status == "completed"
    assert retried.retry_of_id == failed.pk
    assert (retried.product_reference, retried.quantity, retried.total) == ("book", 1, failed.total)
    assert OneClickOrder.objects.count() == 2
    assert ProviderExchange.objects.filter(operation="purchase").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("reference", ["approved", "async", "timeout"])
def test_only_failed_orders_can_be_retried(customer, reference):
    add_method(customer, reference)
    order = place(customer)
    with pytest.raises(InvalidTransition):
        retry_order(order)
    assert OneClickOrder.objects.count() == 1
