"""Billerix end to end: the REST API, the provider and its fake over loopback HTTP."""

import logging
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from django_oneclick.models import OneClickOrder
from django_oneclick.providers.billerix import BillerixProvider, x_token
from django_oneclick.testing import billerix as bx
from django_oneclick.testing.billerix import BillerixFake
from tests.conftest import add_method
from tests.providers_helpers import assert_nothing_leaked, buy, point_provider_at, read, stored

pytestmark = pytest.mark.django_db

PRODUCT = "book"  # the offer has no Billerix id, so its reference is the product code


@pytest.fixture
def fake(settings):
    with BillerixFake() as fake:
        fake.hang_seconds = 1.0
        fake.add_product(PRODUCT)
        point_provider_at(settings, "billerix", fake)
        yield fake


@pytest.fixture
def subscription():
    return str(uuid.uuid4())


@pytest.fixture
def buyer(fake, subscription):
    return fake.add_buyer(subscriptions={subscription: PRODUCT})


@pytest.fixture
def charge_method(customer, buyer):
    return add_method(customer, buyer.charge_method_id, provider="billerix", data={"buyer_id": buyer.buyer_id})


def test_x_token_matches_the_published_vector():
    token = x_token(
        "secret-key-test123123123abc",
        "aa46a835-36fa-4f75-ba3d-dc8785912345",
        "10.10.10.10",
        "2024-01-27T23:59:59",
    )

    assert token == "5cdc01c2d66c52a513f58e077d85660468852fc141d305888416a151a05dc159"


def test_purchase_is_processing_until_the_charge_settles(api, fake, charge_method, buyer):
    response = buy(api)

    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "processing"
    [placed] = fake.orders.values()
    assert order["provider_order_id"] == placed["id"]
    [sent] = fake.purchase_requests()
    assert sent.header("x-buyer-ip") == "127.0.0.1"
    assert sent.header("x-source") == "shop"
    assert sent.json() == {
        "isMobile": False,
        "chargeMethodId": buyer.charge_method_id,
        "currency": "EUR",
        "metaData": {"oneclickOrderId": order["id"]},
        "products": [{"actionName": "purchase", "productCode": PRODUCT, "quantity": 1}],
    }

    settled = read(api, order["id"])

    assert (settled["status"], settled["progress"], stored(settled).progress) == ("completed", "", "settled")


def test_a_pending_charge_is_polled_until_it_settles(api, fake, charge_method):
    fake.pending_polls = 2
    order = buy(api).json()

    assert read(api, order["id"])["status"] == "processing"  # 204: no result yet
    second = read(api, order["id"])
    assert (second["status"], stored(second).progress) == ("processing", "authorized")
    assert (second["progress"], second["progress_step"]) == ("Authorising the payment", "authorising_payment")
    assert read(api, order["id"])["status"] == "completed"


@pytest.mark.parametrize(
    ("code", "expected_code"),
    [(2101, "declined"), (2102, "declined"), (2104, "declined"), (2105, "declined"), (None, "charge_failed")],
)
def test_a_failed_charge_fails_the_order(api, fake, charge_method, code, expected_code):
    fake.decline_next(code)
    order = buy(api).json()

    settled = read(api, order["id"])

    assert (settled["status"], settled["error_code"]) == ("failed", expected_code)
    if code:
        assert f"(code {code})" in stored(settled).error_message
        assert bx.CHARGE_FAILURES[code][1] in stored(settled).error_message
        assert bx.CHARGE_FAILURES[code][1] not in settled["customer_message"]


EXPECTED = {
    "product_not_found": ("failed", "not_found"),
    "validation": ("failed", "invalid_request"),
    "race_condition": ("failed", "race_condition"),
    "unauthorized": ("failed", "authentication_failed"),
    "server_error": ("unknown", "outcome_unknown"),
    "charge_2101": ("failed", "declined"),
    "charge_2102": ("failed", "declined"),
    "charge_2104": ("failed", "declined"),
    "charge_2105": ("failed", "declined"),
}


def test_every_documented_error_is_expected():
    assert set(EXPECTED) == set(bx.ERRORS)


@pytest.mark.parametrize("error", sorted(EXPECTED))
def test_documented_errors_map_onto_order_states(api, fake, charge_method, error):
    fake.fail_next_with(error)

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == EXPECTED[error]
    assert bx.ERRORS[error][1]["message"] in stored(order).error_message
    assert bx.ERRORS[error][1]["message"] not in order["customer_message"]
    assert not fake.orders


def test_field_errors_are_kept_for_the_operator(api, fake, charge_method):
    fake.fail_next_with("validation")

    order = buy(api).json()

    assert "coupon: Coupon not found." in stored(order).error_message


@pytest.mark.parametrize(
    ("options", "expected_code"),
    [
        ({"SECRET_KEY": "not-the-secret"}, "authentication_failed"),  # bad x-token
        ({"PUBLIC_KEY": str(uuid.uuid4())}, "authentication_failed"),
        ({"SERVICE_ID": "another-service"}, "authentication_failed"),  # 403 for x-id
        ({"SOURCE": "elsewhere"}, "authentication_failed"),
    ],
)
def test_credentials_the_fake_refuses(api, fake, charge_method, settings, options, expected_code):
    point_provider_at(settings, "billerix", fake, **options)

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == ("failed", expected_code)
    assert not fake.orders


def test_unknown_product_is_refused(api, fake, charge_method):
    order = buy(api, "mug").json()

    assert (order["status"], order["error_code"]) == ("failed", "not_found")
    assert "Product not found by merchant and code" in stored(order).error_message


@pytest.mark.parametrize("action", ["renew", "upgrade", "downgrade"])
def test_subscription_actions_are_sent_as_one_product_entry(api, fake, charge_method, subscription, action):
    order = buy(api, options={"action": action, "subscription_id": subscription}).json()

    assert order["status"] == "processing"
    [sent] = fake.purchase_requests()
    assert sent.json()["products"] == [{"actionName": action, "productCode": PRODUCT, "subscriptionId": subscription}]
    assert read(api, order["id"])["status"] == "completed"


def test_a_subscription_of_someone_else_is_refused_by_billerix(api, fake, charge_method):
    order = buy(api, options={"action": "upgrade", "subscription_id": str(uuid.uuid4())}).json()

    assert (order["status"], order["error_code"]) == ("failed", "not_found")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"options": {"action": "upgrade"}}, "send its subscription_id"),
        ({"options": {"action": "renew", "subscription_id": "not-a-uuid"}}, "send its subscription_id"),
        ({"options": {"subscription_id": "0f8fad5b-d9cb-469f-a165-70867728950e"}}, "do not send subscription_id"),
        ({"options": {"action": "cancel"}}, "must be one of"),
        ({"options": {"coupon": "SUM30"}}, "Unknown options: coupon"),
        (
            {"quantity": 2, "options": {"action": "renew", "subscription_id": "0f8fad5b-d9cb-469f-a165-70867728950e"}},
            "quantity must be 1",
        ),
    ],
)
def test_documented_rules_are_enforced_before_anything_is_written_or_sent(api, fake, charge_method, body, message):
    response = buy(api, **body)

    assert response.status_code == 400
    assert message in str(response.json()["non_field_errors"])
    assert not fake.requests
    assert not OneClickOrder.objects.exists()


def test_a_method_without_buyer_id_must_be_added_again(api, fake, customer, buyer):
    add_method(customer, buyer.charge_method_id, provider="billerix")

    response = buy(api)

    assert response.status_code == 400
    assert "no Billerix buyer id" in str(response.json())
    assert not fake.requests


@pytest.mark.parametrize("fault", ["timeout", "drop", "malformed"])
def test_a_lost_answer_stays_unknown_for_an_operator_never_resent(api, fake, charge_method, fault):
    """Billerix documents no lookup by our reference: the order stays unknown, however long it
    waits, and the operator is told how to find it (its metaData carries our order id)."""
    fake.fail_next(fault)

    order = buy(api).json()
    assert (order["status"], order["provider_order_id"]) == ("unknown", "")
    OneClickOrder.objects.filter(public_id=order["id"]).update(created_at=timezone.now() - timedelta(days=1))

    settled = read(api, order["id"])

    [placed] = fake.orders.values()
    assert (settled["status"], settled["provider_order_id"]) == ("unknown", "")
    stored = OneClickOrder.objects.get(public_id=order["id"])
    assert stored.error_code == "needs_operator"
    assert order["id"] in stored.error_message
    assert placed["body"]["metaData"] == {"oneclickOrderId": order["id"]}
    assert len(fake.purchase_requests()) == 1
    assert [r.method for r in fake.requests] == ["POST"]  # no undocumented lookup


def test_a_404_on_the_result_of_a_created_order_never_fails_it(api, fake, charge_method, settings):
    """Billerix gave the order's id, so it created the order: a 404 of its result is no word
    that nothing was charged."""
    order = buy(api).json()
    assert order["status"] == "processing"
    fake.orders.clear()
    OneClickOrder.objects.filter(public_id=order["id"]).update(created_at=timezone.now() - timedelta(days=1))

    assert read(api, order["id"])["status"] == "processing"
    assert OneClickOrder.objects.get(public_id=order["id"]).refresh_attempts == 1


def test_an_undocumented_server_error_leaves_the_order_unknown(api, fake, charge_method, settings):
    fake.fail_next_with("server_error")
    order = buy(api).json()
    assert order["status"] == "unknown"
    OneClickOrder.objects.filter(public_id=order["id"]).update(created_at=timezone.now() - timedelta(days=1))

    assert read(api, order["id"])["status"] == "unknown"
    assert len(fake.purchase_requests()) == 1


def test_no_secret_or_signature_is_stored_logged_or_shown(api, fake, charge_method, caplog, admin_client):
    caplog.set_level(logging.DEBUG)
    read(api, buy(api).json()["id"])
    fake.fail_next_with("unauthorized")
    buy(api)
    fake.fail_next("timeout")
    read(api, buy(api).json()["id"])

    signatures = {request.header("x-token") for request in fake.requests}
    assert len(signatures) >= 1
    assert_nothing_leaked([bx.SECRET_KEY, *signatures], caplog, admin_client)


def test_missing_credentials_are_reported_by_the_system_check():
    messages = BillerixProvider("billerix", {"PUBLIC_KEY": "p"}).check()

    assert sorted(m.msg for m in messages) == [
        "ONECLICK['PROVIDERS']['billerix'] is missing 'SECRET_KEY'.",
        "ONECLICK['PROVIDERS']['billerix'] is missing 'SERVICE_ID'.",
    ]
