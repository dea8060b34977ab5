"""Even in a shop with ATOMIC_REQUESTS, the order is committed before its provider is called,
so a crash during the call can never roll back an order the provider may have charged."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections

from django_oneclick.models import OneClickOrder
from django_oneclick.providers.sandbox import SandboxProvider
from tests.conftest import add_method


@pytest.fixture
def atomic_requests():
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    yield
    connection.settings_dict["ATOMIC_REQUESTS"] = False


@pytest.fixture
def committed_when_called(monkeypatch):
    """Records, at the moment the sandbox is called, whether another connection sees the order."""
    seen = []
    purchase = SandboxProvider.purchase

    def spy(self, request, log):
        def look():
            try:
                seen.append(OneClickOrder.objects.filter(public_id=request.order_id).exists())
            except Exception as exc:  # e.g. "table is locked": not committed
                seen.append(repr(exc))
            finally:
                connections.close_all()

        reader = threading.Thread(target=look)
        reader.start()
        reader.join()
        return purchase(self, request, log)

    monkeypatch.setattr(SandboxProvider, "purchase", spy)
    return seen


@pytest.mark.django_db(transaction=True)
def test_api_order_is_committed_before_the_provider_call(atomic_requests, committed_when_called):
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user("carol", "carol@example.com", "pw")
    add_method(user, "approved")
    client = APIClient()
    client.force_login(user)
    response = client.post("/oneclick/api/orders/", {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201, response.content
    assert committed_when_called == [True]


@pytest.mark.django_db(transaction=True)
def test_form_order_is_committed_before_the_provider_call(atomic_requests, committed_when_called, client):
    user = get_user_model().objects.create_user("dave", "dave@example.com", "pw")
    add_method(user, "approved")
    client.force_login(user)
    response = client.post("/oneclick/buy/", {"product": "book", "quantity": 1, "idempotency_key": "k"})
    assert response.status_code == 302
    assert committed_when_called == [True]


@pytest.mark.django_db(transaction=True)
def test_admin_retry_is_committed_before_the_provider_call(atomic_requests, committed_when_called, client):
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    method = add_method(staff, "approved")
    failed = OneClickOrder.objects.create(
        owner=staff, payment_method=method, provider="sandbox", product_reference="book",
        product_title="A good book", provider_product_id="book", quantity=1, unit_price="19.99",
        total="19.99", currency="EUR", status="failed", idempotency_key="old", request_fingerprint="x",
    )
    client.force_login(staff)
    client.post(
        "/admin/django_oneclick/oneclickorder/",
        {"action": "retry_as_new_order", "_selected_action": [failed.pk], "confirm": "yes", "reason": "asked"},
    )
    assert committed_when_called == [True]
    assert OneClickOrder.objects.filter(retry_of=failed, status="completed").count() == 1
