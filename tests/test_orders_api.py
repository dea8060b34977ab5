"""The orders API on the sandbox provider: every outcome, price tampering, bad input, throttling."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from tests.conftest import add_method

ORDERS = "/oneclick/api/orders/"


def buy(api, key="key-1", **body):
    body = {"product": "book", "quantity": 1, **body}
    return api.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def exchanges(order_id):
    return list(
        ProviderExchange.objects.filter(order__public_id=order_id).values_list(
            "operation", "http_status", "outcome"
        )
    )


@pytest.fixture
def sandbox_options(settings):
    """Change the sandbox's options for one test."""

    def set_options(**options):
        sandbox = settings.ONECLICK["PROVIDERS"]["sandbox"]
        settings.ONECLICK = {
            **settings.ONECLICK,
            "PROVIDERS": {"sandbox": {**sandbox, **options}},
        }

    return set_options


# --- each sandbox outcome ---------------------------------------------------------------------


@pytest.mark.django_db
def test_approved(api, customer):
    add_method(customer, "approved:visa", label="Visa •••• 4242")
    response = buy(api, quantity=2)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "completed"
    assert data["is_final"] is True
    assert data["product"] == "book"
    assert data["quantity"] == 2
    assert data["total"] == "39.98"
    assert data["currency"] == "EUR"
    assert data["provider"] == "sandbox"
    assert data["payment_method"] == "Visa •••• 4242"
    assert data["provider_order_id"].startswith("SBX-")
    assert (data["error_code"], data["customer_message"], data["progress"]) == ("", "", "")
    assert "error_message" not in data  # the operator's, in the admin
    order = OneClickOrder.objects.get()
    assert str(order.public_id) == data["id"]
    assert order.owner == customer
    assert order.total == Decimal("39.98")
    assert order.customer_ip == "127.0.0.1"
    assert exchanges(data["id"]) == [("purchase", 201, "ok")]
    sent = ProviderExchange.objects.get().request["json"]
    assert sent["amount"] == "39.98"
    assert sent["currency"] == "EUR"
    assert sent["reference"] == data["id"]


@pytest.mark.django_db
def test_declined(api, customer):
    add_method(customer, "declined")
    response = buy(api)
    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["error_code"]) == ("failed", "declined")
    assert data["provider_order_id"] == ""
    assert exchanges(data["id"]) == [("purchase", 402, "declined")]


@pytest.mark.django_db
def test_async_completes_on_a_later_get(api, customer):
    add_method(customer, "async")
    data = buy(api).json()
    assert data["status"] == "processing"
    assert data["is_final"] is False
    assert exchanges(data["id"]) == [("purchase", 201, "ok")]

    later = api.get(f"{ORDERS}{data['id']}/")
    assert later.status_code == 200
    assert later.json()["status"] == "completed"
    assert later.json()["provider_order_id"] == data["provider_order_id"]
    assert exchanges(data["id"]) == [("purchase", 201, "ok"), ("fetch_status", 200, "ok")]


@pytest.mark.django_db
def test_async_not_yet_done_stays_processing_and_is_not_asked_again_at_once(
    api, customer, sandbox_options
):
    sandbox_options(ASYNC_SECONDS=60)
    add_method(customer, "async")
    data = buy(api).json()
    for _ in range(3):
        assert api.get(f"{ORDERS}{data['id']}/").json()["status"] == "processing"
    # STATUS_REFRESH_INTERVAL (2 s) keeps a polling client from hammering the provider.
    assert [op for op, _, _ in exchanges(data["id"])] == ["purchase", "fetch_status"]


@pytest.mark.django_db
@pytest.mark.parametrize(("decision", "status", "error_code"), [
    ("confirm", "completed", ""),
    ("cancel", "failed", "action_declined"),
])
def test_requires_action_then_the_action_page(api, customer, decision, status, error_code):
    add_method(customer, "requires_action")
    data = buy(api).json()
    assert data["status"] == "requires_action"
    action_url = reverse("django_oneclick:sandbox-action", kwargs={"order_id": data["id"]})
    assert data["next_action"] == {"type": "redirect_to_url", "url": action_url}

    # Polling before the customer acts changes nothing.
    assert api.get(f"{ORDERS}{data['id']}/").json()["status"] == "requires_action"

    browser = Client()
    browser.force_login(customer)
    response = browser.post(action_url, {"decision": decision})
    assert response.status_code == 302
    assert response["Location"] == reverse("django_oneclick:order", kwargs={"public_id": data["id"]})

    order = OneClickOrder.objects.get(public_id=data["id"])
    assert (order.status, order.error_code) == (status, error_code)
    assert order.next_action is None
    assert exchanges(data["id"])[0][0] == "purchase"
    assert ProviderExchange.objects.filter(order=order, operation="purchase").count() == 1


@pytest.mark.django_db
def test_action_page_of_another_customers_order_is_404(api, customer, other_customer):
    add_method(customer, "requires_action")
    data = buy(api).json()
    intruder = Client()
    intruder.force_login(other_customer)
    url = reverse("django_oneclick:sandbox-action", kwargs={"order_id": data["id"]})
    assert intruder.post(url, {"decision": "confirm"}).status_code == 404
    assert OneClickOrder.objects.get(public_id=data["id"]).status == "requires_action"


@pytest.mark.django_db
def test_slow(api, customer, sandbox_options):
    sandbox_options(SLOW_SECONDS=0.3)
    add_method(customer, "slow")
    data = buy(api).json()
    assert data["status"] == "completed"
    exchange = ProviderExchange.objects.get(order__public_id=data["id"])
    assert exchange.duration_ms >= 300
    assert (exchange.operation, exchange.outcome) == ("purchase", "ok")


@pytest.mark.django_db
def test_timeout_is_unknown_then_settled_by_a_status_fetch_not_a_second_purchase(api, customer):
    add_method(customer, "timeout")
    data = buy(api).json()
    assert (data["status"], data["error_code"]) == ("unknown", "outcome_unknown")
    assert data["provider_order_id"] == ""
    assert exchanges(data["id"]) == [("purchase", None, "outcome_unknown")]

    settled = api.get(f"{ORDERS}{data['id']}/").json()
    assert settled["status"] == "completed"
    assert settled["provider_order_id"].startswith("SBX-")
    assert exchanges(data["id"]) == [("purchase", None, "outcome_unknown"), ("fetch_status", 200, "ok")]
    # Replaying the request does not buy again either.
    assert buy(api).status_code == 200
    assert ProviderExchange.objects.filter(operation="purchase").count() == 1


@pytest.mark.django_db
def test_server_error_fails_as_retryable(api, customer):
    add_method(customer, "server_error")
    data = buy(api).json()
    assert (data["status"], data["error_code"]) == ("failed", "provider_unavailable")
    assert data["customer_message"] == "The payment provider is unavailable. Nothing was charged; try again."
    stored = OneClickOrder.objects.get(public_id=data["id"])
    assert stored.error_message == "Sandbox answered 503 (method 'server_error')."  # the operator's detail
    assert "error_message" not in data
    assert exchanges(data["id"]) == [("purchase", 503, "provider_unavailable")]
    # Retryable: a new purchase intent (new key) is sent to the provider again.
    PaymentMethod.objects.filter(owner=customer).update(reference="approved")
    again = buy(api, key="key-2")
    assert again.status_code == 201
    assert again.json()["status"] == "completed"


@pytest.mark.django_db
def test_purchase_options_the_sandbox_does_not_take_are_refused_before_anything_is_written(api, customer):
    add_method(customer, "approved")
    response = buy(api, options={"gift_wrap": True})
    assert response.status_code == 400
    assert "This payment method takes no extra options." in str(response.json())
    assert_nothing_written()


@pytest.mark.django_db
def test_a_method_the_sandbox_no_longer_knows_must_be_entered_again(api, customer):
    method = add_method(customer, "retired:visa")
    response = buy(api)
    assert response.status_code == 400
    assert "entered again" in str(response.json())
    method.refresh_from_db()
    assert method.needs_reentry
    assert_nothing_written()


@pytest.mark.django_db
def test_explicit_method_is_used_instead_of_default(api, customer):
    add_method(customer, "approved", default=True)
    declining = add_method(customer, "declined", default=False)
    data = buy(api, payment_method=declining.pk).json()
    assert data["status"] == "failed"
    assert OneClickOrder.objects.get().payment_method == declining


# --- the price comes from the shop ---------------------------------------------------------


@pytest.mark.django_db
def test_price_tampering_is_ignored(api, customer):
    add_method(customer, "approved")
    response = buy(api, quantity=3, total="0.01", unit_price="0.01", price="0.01", currency="XXX")
    assert response.status_code == 201
    data = response.json()
    assert (data["total"], data["unit_price"], data["currency"]) == ("59.97", "19.99", "EUR")
    order = OneClickOrder.objects.get()
    assert (order.unit_price, order.total) == (Decimal("19.99"), Decimal("59.97"))
    assert ProviderExchange.objects.get().request["json"]["amount"] == "59.97"


# --- bad input: a 4xx with a field message, nothing written ---------------------------------


BAD_BODIES = [
    ({"product": "book", "quantity": 0}, "quantity"),
    ({"product": "book", "quantity": -1}, "quantity"),
    ({"product": "book", "quantity": 21}, "quantity"),
    ({"product": "book", "quantity": 10**30}, "quantity"),
    ({"product": "book", "quantity": "two"}, "quantity"),
    ({"product": "book", "quantity": 1.5}, "quantity"),
    ({"product": "book", "quantity": None}, "quantity"),
    ({"product": "book", "quantity": [1]}, "quantity"),
    ({"product": "no-such-thing", "quantity": 1}, "product"),
    ({"quantity": 1}, "product"),
    ({"product": "", "quantity": 1}, "product"),
    ({"product": {"ref": "book"}, "quantity": 1}, "product"),
    ({"product": "book", "quantity": 1, "payment_method": "visa"}, "payment_method"),
    ({"product": "book", "quantity": 1, "payment_method": 0}, "payment_method"),
    ({"product": "book", "quantity": 1, "payment_method": 987654}, "payment_method"),
    ({"product": "book", "quantity": 1, "payment_method": 10**30}, "payment_method"),
    ({"product": "book", "quantity": True}, "quantity"),
    ({"product": "x" * 201, "quantity": 1}, "product"),
    ({"product": "book", "quantity": 1, "options": "rush"}, "options"),
]


def assert_nothing_written():
    assert OneClickOrder.objects.count() == 0
    assert ProviderExchange.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_body_is_400_with_field_message(api, customer, body, field):
    add_method(customer, "approved")
    response = api.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400, response.content
    messages = response.json()[field]
    assert messages and all(isinstance(m, str) and m for m in messages)
    assert_nothing_written()


@pytest.mark.django_db
def test_huge_quantity_message_names_the_limit(api, customer):
    add_method(customer, "approved")
    response = buy(api, quantity=1000)
    assert response.json() == {"quantity": ["Choose a quantity from 1 to 20."]}


@pytest.mark.django_db
def test_other_customers_method_is_a_field_error(api, customer, other_customer):
    add_method(customer, "approved")
    theirs = add_method(other_customer, "approved")
    response = buy(api, payment_method=theirs.pk)
    assert response.status_code == 400
    assert response.json() == {"payment_method": ["No such saved payment method."]}
    assert_nothing_written()


@pytest.mark.django_db
def test_no_default_method(api, customer):
    add_method(customer, "approved", default=False)
    response = buy(api)
    assert response.status_code == 400
    assert "default payment method" in response.json()["payment_method"][0]
    assert_nothing_written()


@pytest.mark.django_db
def test_method_that_must_be_entered_again(api, customer):
    add_method(customer, "approved", needs_reentry=True)
    response = buy(api)
    assert response.status_code == 400
    assert "entered again" in response.json()["payment_method"][0]
    assert_nothing_written()


@pytest.mark.django_db
def test_malformed_json(api, customer):
    add_method(customer, "approved")
    response = api.post(
        ORDERS, '{"product": "book", "quantity": ', content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert_nothing_written()


@pytest.mark.django_db
def test_json_array_body(api, customer):
    add_method(customer, "approved")
    response = api.post(ORDERS, [{"product": "book"}], format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Send a JSON object."]}
    assert_nothing_written()


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "", "   ", "k" * 256, "bad\x00key"])
def test_missing_or_bad_idempotency_key(api, customer, key):
    add_method(customer, "approved")
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    response = api.post(ORDERS, {"product": "book", "quantity": 1}, format="json", **headers)
    assert response.status_code == 400
    message = response.json()["Idempotency-Key"][0]
    assert "required" in message or "255 printable" in message
    assert_nothing_written()


@pytest.mark.django_db
def test_longest_allowed_key_is_accepted(api, customer):
    add_method(customer, "approved")
    assert buy(api, key="k" * 255).status_code == 201


@pytest.mark.django_db
def test_anonymous_cannot_order(customer):
    from rest_framework.test import APIClient

    add_method(customer, "approved")
    response = APIClient().post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 403
    assert_nothing_written()


# --- reading orders -------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_only_own_orders_newest_first_paginated(api, customer, other_customer):
    add_method(customer, "approved")
    add_method(other_customer, "approved")
    ids = [buy(api, key=f"k{i}", product="mug").json()["id"] for i in range(3)]
    from rest_framework.test import APIClient

    other = APIClient()
    other.force_login(other_customer)
    buy(other, key="k0")

    page = api.get(ORDERS, {"page_size": 2}).json()
    assert page["count"] == 3
    assert [o["id"] for o in page["results"]] == ids[::-1][:2]
    second = api.get(ORDERS, {"page_size": 2, "page": 2}).json()
    assert [o["id"] for o in second["results"]] == ids[:1]


@pytest.mark.django_db
def test_unknown_order_id_is_404(api, customer):
    assert api.get(f"{ORDERS}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert api.get(f"{ORDERS}not-a-uuid/").status_code == 404


# --- throttling -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_order_placing_is_throttled_per_user(api, customer, other_customer, settings):
    settings.ONECLICK = {**settings.ONECLICK, "ORDER_THROTTLE_RATE": "2/min"}
    add_method(customer, "approved")
    add_method(other_customer, "approved")
    assert buy(api, key="a").status_code == 201
    assert buy(api, key="b").status_code == 201
    third = buy(api, key="c")
    assert third.status_code == 429
    assert third.json()["detail"] == "You have placed many orders in a short time. Please wait a moment and try again."
    assert 1 <= int(third["Retry-After"]) <= 61
    assert OneClickOrder.objects.filter(owner=customer).count() == 2

    from rest_framework.test import APIClient

    other = APIClient()
    other.force_login(other_customer)
    assert buy(other, key="a").status_code == 201
    # Reading is not limited by the order rate.
    assert api.get(ORDERS).status_code == 200
