"""What must not lose track of money when things go wrong around a purchase: an answer that
arrives after the order was taken for interrupted, a status fetch that crashes, a method removed
while its order is unsettled, a failing fulfilment receiver, a stale form."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError

from django_oneclick import signals
from django_oneclick.domain.errors import OrderRequestInvalid
from django_oneclick.models import OneClickOrder, PaymentMethod
from django_oneclick.orders import retry_order
from django_oneclick.providers.sandbox import SandboxProvider
from tests.conftest import add_method

ORDERS = "/oneclick/api/orders/"


def buy(api, key="k", **body):
    return api.post(ORDERS, {"product": "book", **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_slow_answer_after_the_order_was_declared_unknown_still_settles_it(api, customer, monkeypatch):
    """A replay after STALE_PENDING_AFTER declares the in-flight order unknown; the provider's
    answer that arrives afterwards is still the truth and completes it."""
    add_method(customer, "approved")
    purchase = SandboxProvider.purchase

    def slow(self, request, log):
        OneClickOrder.objects.filter(public_id=request.order_id).update(status="unknown")
        return purchase(self, request, log)

    monkeypatch.setattr(SandboxProvider, "purchase", slow)
    response = buy(api)
    order = OneClickOrder.objects.get()
    assert (response.status_code, order.status) == (201, "completed")
    assert order.provider_order_id.startswith("SBX-")


@pytest.mark.django_db
def test_a_crashing_status_fetch_is_counted_not_raised(api, customer, monkeypatch, caplog):
    add_method(customer, "async")
    order_id = buy(api).json()["id"]

    def broken(self, request, log):
        raise KeyError("orderId")

    monkeypatch.setattr(SandboxProvider, "fetch_status", broken)
    response = api.get(f"{ORDERS}{order_id}/")
    order = OneClickOrder.objects.get()
    assert (response.status_code, response.json()["status"]) == (200, "processing")
    assert order.refresh_attempts == 1
    assert "status fetch raised" in caplog.text


@pytest.mark.django_db
def test_a_method_paying_for_an_unsettled_order_cannot_be_removed(api, customer):
    method = add_method(customer, "async")
    order_id = buy(api).json()["id"]
    response = api.delete(f"/oneclick/api/payment-methods/{method.pk}/")
    assert response.status_code == 409
    assert "order in progress" in response.json()["detail"]
    assert PaymentMethod.objects.filter(pk=method.pk).exists()
    api.get(f"{ORDERS}{order_id}/")  # settles it (ASYNC_SECONDS is 0 in the tests)
    assert api.delete(f"/oneclick/api/payment-methods/{method.pk}/").status_code == 204


@pytest.mark.django_db
def test_the_admin_offers_no_delete_for_a_method_in_use(client, api, customer):
    method = add_method(customer, "async")
    buy(api)
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(staff)
    page = client.get(f"/admin/django_oneclick/paymentmethod/{method.pk}/delete/")
    assert page.status_code == 403
    listing = client.get("/admin/django_oneclick/paymentmethod/").content.decode()
    assert "delete_selected" not in listing


@pytest.mark.django_db
def test_an_order_whose_method_was_removed_is_still_reconciled(api, customer):
    """Orders settled before their method was removed keep their history; an unknown order
    whose method went (e.g. removed in the database) is still looked up by its id."""
    method = add_method(customer, "timeout")
    order_id = buy(api).json()["id"]
    OneClickOrder.objects.filter(public_id=order_id).update(payment_method=None)
    method.delete()
    assert api.get(f"{ORDERS}{order_id}/").json()["status"] == "completed"


@pytest.mark.django_db
def test_a_retry_never_charges_another_method_than_the_original(api, customer):
    method = add_method(customer, "declined")
    failed = OneClickOrder.objects.get(public_id=buy(api).json()["id"])
    method.delete()  # final orders do not hold their method
    add_method(customer, "approved", label="another card")
    failed.refresh_from_db()
    with pytest.raises(OrderRequestInvalid) as refused:
        retry_order(failed)
    assert refused.value.errors == {"payment_method": ["The order's payment method was removed."]}
    assert OneClickOrder.objects.count() == 1


@pytest.mark.django_db
def test_a_method_removed_while_the_order_is_written_is_a_field_error(api, customer, monkeypatch):
    add_method(customer, "approved")

    def foreign_key_gone(self, *args, **kwargs):
        raise IntegrityError("insert or update on table violates foreign key constraint")

    monkeypatch.setattr(OneClickOrder, "save", foreign_key_gone)
    response = buy(api)
    assert response.status_code == 400
    assert response.json() == {"payment_method": ["This payment method is no longer available."]}


@pytest.mark.django_db
def test_a_failing_fulfilment_receiver_does_not_turn_the_purchase_into_an_error(api, customer, caplog):
    add_method(customer, "approved")

    def broken_fulfilment(sender, order, **kwargs):
        raise RuntimeError("warehouse is down")

    signals.order_completed.connect(broken_fulfilment)
    try:
        response = buy(api)
    finally:
        signals.order_completed.disconnect(broken_fulfilment)
    assert (response.status_code, response.json()["status"]) == (201, "completed")
    assert "warehouse is down" in caplog.text


@pytest.mark.django_db
def test_a_stale_form_with_a_changed_quantity_says_nothing_was_ordered(client, customer):
    add_method(customer, "approved")
    client.force_login(customer)
    client.post("/oneclick/buy/", {"product": "book", "quantity": 1, "idempotency_key": "form-1"})
    response = client.post(
        "/oneclick/buy/", {"product": "book", "quantity": 2, "idempotency_key": "form-1", "next": "/products/book/"},
        follow=True,
    )
    assert "nothing was ordered" in response.content.decode()
    assert OneClickOrder.objects.count() == 1


@pytest.mark.django_db
def test_stale_pending_recovery_then_provider_answer_from_the_interrupted_request(api, customer):
    """The order-level view of the same race: a replay after STALE_PENDING_AFTER finds the
    order pending and declares it unknown; a later status fetch settles it."""
    add_method(customer, "timeout")
    order_id = buy(api).json()["id"]
    order = OneClickOrder.objects.get(public_id=order_id)
    OneClickOrder.objects.filter(pk=order.pk).update(
        status="pending", created_at=order.created_at - timedelta(minutes=10)
    )
    assert buy(api).json()["status"] == "unknown"
    assert api.get(f"{ORDERS}{order_id}/").json()["status"] == "completed"


@pytest.mark.django_db
def test_the_customer_reads_a_plain_message_and_the_operator_the_providers_detail(api, customer):
    add_method(customer, "declined")
    order = buy(api).json()
    assert order["customer_message"] == "The payment was declined. Please use another payment method."
    assert "error_message" not in order
    stored = OneClickOrder.objects.get(public_id=order["id"])
    assert stored.error_message == "Sandbox declined the payment (method 'declined')."
    assert order["error_code"] == "declined"
