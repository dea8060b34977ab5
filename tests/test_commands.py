"""``manage.py oneclick_refresh`` settles orders from cron, with the same code as the admin."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_oneclick.models import OneClickOrder, ProviderExchange
from tests.conftest import add_method


def buy(api, key, product="book"):
    response = api.post("/oneclick/api/orders/", {"product": product}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content
    return OneClickOrder.objects.get(public_id=response.json()["id"])


@pytest.mark.django_db
def test_refresh_settles_async_unknown_and_interrupted_orders(api, customer):
    add_method(customer, "async")
    processing = buy(api, "a")
    customer.oneclick_payment_methods.update(reference="timeout")
    unknown = buy(api, "b")
    assert (processing.status, unknown.status) == ("processing", "unknown")
    customer.oneclick_payment_methods.update(reference="approved")
    # A request that died after writing its order: pending, older than STALE_PENDING_AFTER.
    interrupted = buy(api, "c")
    OneClickOrder.objects.filter(pk=interrupted.pk).update(
        status="pending", created_at=interrupted.created_at - timedelta(hours=1)
    )

    out = StringIO()
    call_command("oneclick_refresh", stdout=out)

    processing.refresh_from_db()
    unknown.refresh_from_db()
    interrupted.refresh_from_db()
    assert processing.status == "completed"
    assert unknown.status == "completed"  # the sandbox had placed it: found, not re-sent
    assert interrupted.status == "completed"
    assert ProviderExchange.objects.filter(order=unknown, operation="purchase").count() == 1
    assert "Refreshed 3 order(s): 3 completed." in out.getvalue()


@pytest.mark.django_db
def test_refresh_marks_an_order_the_provider_never_saw_as_not_placed(api, customer):
    add_method(customer, "approved")
    order = buy(api, "d")
    # Crash between writing the order and calling the provider: the sandbox never saw it.
    from django.core.cache import cache

    cache.clear()
    OneClickOrder.objects.filter(pk=order.pk).update(status="unknown", provider_order_id="")
    call_command("oneclick_refresh", stdout=StringIO())
    order.refresh_from_db()
    assert order.status == "unknown"  # not before its purchase could have ended

    OneClickOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    call_command("oneclick_refresh", stdout=StringIO())
    order.refresh_from_db()
    assert (order.status, order.error_code) == ("failed", "not_placed")


@pytest.mark.django_db
def test_refresh_leaves_final_and_fresh_pending_orders_alone(api, customer):
    add_method(customer, "approved")
    done = buy(api, "e")
    in_flight = buy(api, "f")
    OneClickOrder.objects.filter(pk=in_flight.pk).update(status="pending")
    out = StringIO()
    call_command("oneclick_refresh", stdout=out)
    assert "nothing to do" in out.getvalue()
    assert OneClickOrder.objects.get(pk=in_flight.pk).status == "pending"
    assert ProviderExchange.objects.filter(order=done).count() == 1
