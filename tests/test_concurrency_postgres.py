"""Twenty concurrent requests with one Idempotency-Key: one order, one provider call.

Needs real concurrency, so it runs on PostgreSQL only (``ONECLICK_TEST_DB=postgres``); SQLite's
in-memory test database cannot be shared between threads.
"""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from django_oneclick.orders import register_payment_method
from django_oneclick.providers.sandbox import SandboxProvider
from tests.conftest import add_method

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: ONECLICK_TEST_DB=postgres"
    ),
]

THREADS = 20
ORDERS = "/oneclick/api/orders/"


@pytest.fixture
def purchase_calls(monkeypatch, settings):
    """Count the calls that reach the provider, and make each one take a moment so that the
    other requests arrive while it is in flight."""
    settings.ONECLICK = {**settings.ONECLICK, "ORDER_THROTTLE_RATE": "1000/min"}
    calls = Counter()
    lock = threading.Lock()
    original = SandboxProvider.purchase

    def counted(self, request, log):
        with lock:
            calls[request.order_id] += 1
        threading.Event().wait(0.2)
        return original(self, request, log)

    monkeypatch.setattr(SandboxProvider, "purchase", counted)
    return calls


def post_together(clients_and_keys, body):
    """Send one POST per (client, key) from its own thread, all released at once."""
    barrier = threading.Barrier(len(clients_and_keys))
    responses = [None] * len(clients_and_keys)
    errors = []

    def send(index, client, key):
        try:
            barrier.wait(timeout=30)
            responses[index] = client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        except Exception as exc:  # reported below: a thread must not fail silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(i, client, key))
        for i, (client, key) in enumerate(clients_and_keys)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return responses


def signed_in(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_twenty_threads_one_key_make_one_order_and_one_provider_call(customer, purchase_calls):
    add_method(customer, "approved")
    clients = [signed_in(customer) for _ in range(THREADS)]

    responses = post_together([(c, "double-click") for c in clients], {"product": "book", "quantity": 1})

    order = OneClickOrder.objects.get()
    assert order.status == "completed"
    assert dict(purchase_calls) == {str(order.public_id): 1}
    assert ProviderExchange.objects.filter(operation="purchase").count() == 1

    codes = Counter(r.status_code for r in responses)
    assert codes[201] == 1, codes
    assert set(codes) <= {201, 200, 409}, codes
    for response in responses:
        body = response.json()
        reference = body["id"] if response.status_code in (200, 201) else body["order"]
        assert reference == str(order.public_id)


def test_two_keys_at_once_make_two_orders(customer, purchase_calls):
    add_method(customer, "approved")
    pairs = [(signed_in(customer), key) for key in ("tab-1", "tab-2") for _ in range(5)]

    responses = post_together(pairs, {"product": "mug", "quantity": 1})

    orders = OneClickOrder.objects.order_by("idempotency_key")
    assert [o.idempotency_key for o in orders] == ["tab-1", "tab-2"]
    assert all(o.status == "completed" for o in orders)
    assert sorted(purchase_calls.values()) == [1, 1]
    assert Counter(r.status_code for r in responses)[201] == 2
    assert ProviderExchange.objects.filter(operation="purchase").count() == 2


def test_two_first_methods_saved_at_once_leave_exactly_one_default(customer):
    """Nothing to lock before a customer's first method: the customer's row is locked instead."""
    barrier = threading.Barrier(2)
    errors = []

    def register(reference):
        try:
            barrier.wait(timeout=30)
            register_payment_method(customer, "sandbox", {"reference": reference})
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(ref,)) for ref in ("approved:a", "approved:b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert PaymentMethod.objects.filter(owner=customer).count() == 2
    assert PaymentMethod.objects.filter(owner=customer, is_default=True).count() == 1


def test_forty_simultaneous_purchases_under_a_limit_of_five_let_five_through(customer, purchase_calls, settings):
    """Defect: DRF's throttle reads, then writes its history: forty simultaneous purchases by one
    customer under a limit of twenty all went through."""
    settings.ONECLICK = {**settings.ONECLICK, "ORDER_THROTTLE_RATE": "5/hour"}  # no window ends mid-test
    add_method(customer, "approved")
    client = signed_in(customer)

    responses = post_together([(client, f"key-{i}") for i in range(40)], {"product": "book"})

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 5, 429: 35}
    assert OneClickOrder.objects.count() == 5
    assert sum(purchase_calls.values()) == 5
