"""The back office: masked methods, read-only orders with their exchanges, refresh and retry."""

import pytest
from django.contrib.auth import get_user_model

from django_oneclick.models import OneClickOrder
from tests.conftest import add_method


@pytest.fixture
def staff_client(client, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def buy(api, key, product="book"):
    response = api.post("/oneclick/api/orders/", {"product": product}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content
    return OneClickOrder.objects.get(public_id=response.json()["id"])


@pytest.mark.django_db
def test_payment_method_reference_is_masked(staff_client, customer):
    method = add_method(customer, "approved:tok_live_abcdef123456789", label="Visa •••• 4242")
    page = staff_client.get(f"/admin/django_oneclick/paymentmethod/{method.pk}/change/").content.decode()
    assert "Visa •••• 4242" in page
    assert "…6789" in page
    assert "tok_live_abcdef123456789" not in page
    listing = staff_client.get("/admin/django_oneclick/paymentmethod/?q=alice@example.com").content.decode()
    assert "Visa •••• 4242" in listing


@pytest.mark.django_db
def test_order_list_filters_and_search(staff_client, api, customer):
    add_method(customer, "approved")
    order = buy(api, "k1")
    customer.oneclick_payment_methods.update(reference="declined")
    failed = buy(api, "k2", product="mug")
    completed_list = staff_client.get("/admin/django_oneclick/oneclickorder/?status__exact=completed").content.decode()
    assert str(order.public_id) in completed_list and str(failed.public_id) not in completed_list
    by_id = staff_client.get(f"/admin/django_oneclick/oneclickorder/?q={order.provider_order_id}").content.decode()
    assert str(order.public_id) in by_id and str(failed.public_id) not in by_id
    by_email = staff_client.get("/admin/django_oneclick/oneclickorder/?q=alice@example.com").content.decode()
    assert str(order.public_id) in by_email and str(failed.public_id) in by_email


@pytest.mark.django_db
def test_order_detail_is_read_only_with_exchange_log(staff_client, api, customer):
    add_method(customer, "approved")
    order = buy(api, "k1")
    page = staff_client.get(f"/admin/django_oneclick/oneclickorder/{order.pk}/change/").content.decode()
    assert "purchase" in page and order.provider_order_id in page
    assert 'name="status"' not in page  # no editable status field
    response = staff_client.post(f"/admin/django_oneclick/oneclickorder/{order.pk}/change/", {"status": "failed"})
    order.refresh_from_db()
    assert order.status == "completed"
    assert response.status_code in (302, 403, 200)


@pytest.mark.django_db
def test_refresh_action_settles_an_async_order(staff_client, api, customer):
    add_method(customer, "async")
    order = buy(api, "k1")
    assert order.status == "processing"
    response = staff_client.post(
        "/admin/django_oneclick/oneclickorder/",
        {"action": "refresh_status", "_selected_action": [order.pk]},
        follow=True,
    )
    order.refresh_from_db()
    assert order.status == "completed"
    assert "1 changed status" in response.content.decode()


@pytest.mark.django_db
def test_retry_action_places_one_new_order_however_often_it_is_pressed(staff_client, api, customer):
    method = add_method(customer, "declined")
    failed = buy(api, "k1")
    assert failed.status == "failed"
    method.reference = "approved"
    method.save()
    for _ in range(2):
        staff_client.post(
            "/admin/django_oneclick/oneclickorder/",
            {"action": "retry_as_new_order", "_selected_action": [failed.pk]},
        )
    retries = OneClickOrder.objects.exclude(pk=failed.pk)
    assert retries.count() == 1
    assert retries.get().status == "completed"
    assert retries.get().retry_of == failed
    failed.refresh_from_db()
    assert failed.status == "failed"


@pytest.mark.django_db
def test_retry_action_refuses_orders_that_did_not_fail(staff_client, api, customer):
    add_method(customer, "approved")
    order = buy(api, "k1")
    response = staff_client.post(
        "/admin/django_oneclick/oneclickorder/",
        {"action": "retry_as_new_order", "_selected_action": [order.pk]},
        follow=True,
    )
    assert "Only a failed order can be retried" in response.content.decode()
    assert OneClickOrder.objects.count() == 1


@pytest.mark.django_db
def test_an_operator_settles_an_unknown_order_by_hand(staff_client, api, customer):
    from django_oneclick import signals

    add_method(customer, "timeout")
    order = buy(api, "k1")
    completed = []
    signals.order_completed.connect(receiver := lambda sender, order, **kw: completed.append(order.pk))
    try:
        staff_client.post(
            "/admin/django_oneclick/oneclickorder/", {"action": "mark_completed", "_selected_action": [order.pk]}
        )
    finally:
        signals.order_completed.disconnect(receiver)
    order.refresh_from_db()
    assert (order.status, order.error_code) == ("completed", "")
    assert completed == [order.pk]
    audit = order.exchanges.get(operation="settled_by_operator")
    assert audit.request == {"operator": "root", "status": "completed", "previous_status": "unknown"}


@pytest.mark.django_db
def test_an_operator_cannot_settle_a_final_order(staff_client, api, customer):
    add_method(customer, "declined")
    order = buy(api, "k1")
    response = staff_client.post(
        "/admin/django_oneclick/oneclickorder/",
        {"action": "mark_completed", "_selected_action": [order.pk]},
        follow=True,
    )
    order.refresh_from_db()
    assert order.status == "failed"
    assert "Only an unsettled order can be settled by hand" in response.content.decode()
