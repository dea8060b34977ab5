"""Digital River end to end: the REST API, the provider and its fake over loopback HTTP."""

import logging
import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from django_oneclick.models import OneClickOrder
from django_oneclick.providers.digitalriver import DigitalRiverProvider
from django_oneclick.testing import digitalriver as dr
from django_oneclick.testing.digitalriver import DigitalRiverFake
from tests.conftest import add_method
from tests.providers_helpers import assert_nothing_leaked, buy, point_provider_at, read, stored

PRODUCT = "5321623900"  # the "book" offer's Digital River product id (tests/shop/offers.py)
SHOPPER = "shop-customer-1"

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    with DigitalRiverFake() as fake:
        fake.hang_seconds = 1.0
        fake.add_product(PRODUCT, "A good book", Decimal("19.99"), "EUR")
        fake.add_shopper(SHOPPER)
        point_provider_at(settings, "digitalriver", fake)
        yield fake


@pytest.fixture
def shopper_method(customer):
    return add_method(customer, SHOPPER, provider="digitalriver", label="Digital River default")


def token_requests(fake):
    return [r for r in fake.requests if r.path == "/oauth20/token"]


def test_purchase_completes_with_the_order_named_in_location(api, fake, shopper_method):
    response = buy(api)

    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "completed"
    [placed] = fake.orders.values()
    assert order["provider_order_id"] == placed["id"]
    assert placed["shopper"] == SHOPPER and placed["product"] == PRODUCT
    [token_call] = token_requests(fake)
    assert token_call.form() == {"grant_type": "client_credentials", "externalReferenceId": SHOPPER}


def test_the_shopper_token_is_cached_between_purchases(api, fake, shopper_method):
    assert buy(api).json()["status"] == "completed"
    assert buy(api).json()["status"] == "completed"

    assert len(fake.purchase_requests()) == 2
    assert len(token_requests(fake)) == 1


def test_a_rejected_token_is_fetched_again_once(api, fake, shopper_method):
    buy(api)
    fake.expire_tokens()

    response = buy(api)

    assert response.json()["status"] == "completed"
    assert len(token_requests(fake)) == 2
    assert len(fake.purchase_requests()) == 3  # the one refused with 401, then the retry
    assert len(fake.orders) == 2


def test_a_token_rejected_twice_fails_without_ordering(api, fake, shopper_method):
    fake.token_lifetime = -1  # every token is already expired when used

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == ("failed", "authentication_failed")
    assert len(fake.purchase_requests()) == 2
    assert not fake.orders


def test_wrong_api_credentials_fail_before_any_purchase(api, fake, shopper_method, settings):
    point_provider_at(settings, "digitalriver", fake, API_SECRET="not-the-secret")

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == ("failed", "authentication_failed")
    assert "invalid_client" in stored(order).error_message
    assert not fake.purchase_requests()


EXPECTED = {
    "declined": ("failed", "declined"),
    "apply-payment-failure": ("failed", "declined"),
    "apply-shopper-failure": ("failed", "apply-shopper-failure"),
    "already-exists": ("unknown", "outcome_unknown"),  # an order exists: no word that nothing was charged
    "invalid-request": ("failed", "invalid-request"),
    "forbidden": ("failed", "authentication_failed"),
    "resource-not-found": ("failed", "resource-not-found"),
    "method-not-allowed": ("failed", "method-not-allowed"),
    "precondition-failed": ("failed", "precondition-failed"),
    "payload-too-large": ("failed", "payload-too-large"),
    "server-error": ("unknown", "outcome_unknown"),
}


def test_every_documented_error_is_expected():
    assert set(EXPECTED) == set(dr.ERRORS)


@pytest.mark.parametrize("error", sorted(EXPECTED))
def test_documented_errors_map_onto_order_states(api, fake, shopper_method, error):
    fake.fail_next_with(error)

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == EXPECTED[error]
    description = dr.ERRORS[error][1]["errors"]["error"][0]["description"]
    assert description in stored(order).error_message
    assert description not in order["customer_message"]
    assert not fake.orders


def test_decline_keeps_the_declined_message_for_the_operator(api, fake, shopper_method):
    fake.fail_next_with("declined")

    order = buy(api).json()

    assert "declined/fraud_block" in stored(order).error_message
    assert "code 7011" in stored(order).error_message


@pytest.mark.parametrize(
    ("shopper", "expected_code"),
    [
        ({"has_payment": False}, "declined"),
        ({"has_address": False}, "apply-shopper-failure"),
    ],
)
def test_shopper_without_defaults_is_refused(api, fake, customer, shopper, expected_code):
    fake.add_shopper("incomplete", **shopper)
    add_method(customer, "incomplete", provider="digitalriver")

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == ("failed", expected_code)


def test_unknown_product_is_refused(api, fake, shopper_method):
    order = buy(api, "mug").json()  # no Digital River id: "mug" is sent and is unknown

    assert (order["status"], order["error_code"]) == ("failed", "resource-not-found")


def test_bad_input_is_refused_before_anything_is_sent(api, fake, shopper_method):
    several = buy(api, quantity=2)
    with_options = buy(api, options={"action": "upgrade"})

    assert several.status_code == 400 and "one at a time" in str(several.json())
    assert with_options.status_code == 400 and "no extra options" in str(with_options.json())
    assert not fake.requests
    assert not OneClickOrder.objects.exists()


def test_unreachable_provider_fails_with_nothing_charged(api, fake, shopper_method, settings):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    point_provider_at(settings, "digitalriver", fake, BASE_URL=f"http://127.0.0.1:{closed_port}")

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == ("failed", "provider_unavailable")


@pytest.mark.parametrize("fault", ["timeout", "drop", "malformed"])
def test_a_lost_answer_is_shown_to_an_operator_with_its_candidate_never_resent(api, fake, shopper_method, fault):
    """Digital River keeps no reference of ours: the order the history shows is a candidate,
    never taken for ours by itself (the shopper may have bought the product again meanwhile)."""
    buy(api)  # warm the token cache, so the fault meets the purchase
    fake.orders.clear()
    fake.fail_next(fault)

    order = buy(api).json()
    assert (order["status"], order["provider_order_id"]) == ("unknown", "")

    settled = read(api, order["id"])

    [placed] = fake.orders.values()
    assert (settled["status"], settled["provider_order_id"]) == ("unknown", "")
    stored = OneClickOrder.objects.get(public_id=order["id"])
    assert [c["provider_order_id"] for c in stored.candidates] == [placed["id"]]
    assert stored.error_code == "needs_operator"
    assert len(fake.purchase_requests()) == 2  # the warm-up and the lost one, never a resend
    history_calls = [r for r in fake.requests if r.path == "/v1/shoppers/me/orders"]
    assert history_calls and history_calls[0].query["expand"] == ["all"]


def test_an_order_already_settling_another_is_no_candidate(api, fake, shopper_method, settings):
    """Defect: a second purchase of the same product whose answer was lost was completed with
    the first purchase's Digital River order: one charge, two fulfilments."""
    first = buy(api).json()
    assert first["status"] == "completed"
    fake.fail_next_with("server-error")
    second = buy(api).json()
    assert second["status"] == "unknown"

    assert read(api, second["id"])["status"] == "unknown"  # too early to say it was never placed
    assert OneClickOrder.objects.get(public_id=second["id"]).candidates == []

    OneClickOrder.objects.filter(public_id=second["id"]).update(created_at=timezone.now() - timedelta(hours=1))
    settled = read(api, second["id"])

    assert (settled["status"], settled["provider_order_id"]) == ("failed", "")
    assert OneClickOrder.objects.filter(provider_order_id=first["provider_order_id"]).count() == 1


def test_an_order_missing_from_the_history_is_not_placed_only_after_the_wait(api, fake, shopper_method, settings):
    fake.fail_next_with("server-error")
    order = buy(api).json()
    assert order["status"] == "unknown"

    assert read(api, order["id"])["status"] == "unknown"  # too early to say

    # NOT_FOUND_AFTER=0 does not shorten the wait below the purchase's own timeout.
    point_provider_at(settings, "digitalriver", fake, NOT_FOUND_AFTER=0)
    assert read(api, order["id"])["status"] == "unknown"

    OneClickOrder.objects.filter(public_id=order["id"]).update(created_at=timezone.now() - timedelta(seconds=30))
    settled = read(api, order["id"])
    assert (settled["status"], settled["error_code"]) == ("failed", "not_placed")


def test_no_secret_or_token_is_stored_logged_or_shown(api, fake, shopper_method, caplog, admin_client):
    caplog.set_level(logging.DEBUG)
    buy(api)
    fake.expire_tokens()
    buy(api)
    fake.fail_next_with("declined")
    buy(api)
    fake.fail_next("timeout")
    read(api, buy(api).json()["id"])

    assert len(fake.issued) >= 4
    assert_nothing_leaked([dr.API_KEY, dr.API_SECRET, *fake.issued], caplog, admin_client)


def test_missing_credentials_are_reported_by_the_system_check():
    messages = DigitalRiverProvider("digitalriver", {"API_KEY": "k"}).check()

    assert [m.id for m in messages] == ["django_oneclick.E005"]
    assert "API_SECRET" in messages[0].msg


@pytest.mark.parametrize(("final_state", "expected"), [("Complete", "completed"), ("Cancelled", "failed")])
def test_an_order_known_by_id_is_followed_by_its_state(api, fake, shopper_method, final_state, expected):
    fake.new_order_state = "Charge Pending"
    order = buy(api).json()
    assert order["status"] == "completed"  # 201 Created: the order exists at Digital River

    placed = OneClickOrder.objects.get(public_id=order["id"])
    OneClickOrder.objects.filter(pk=placed.pk).update(status="unknown")
    found = read(api, order["id"])
    assert (found["status"], found["progress"]) == ("processing", "Authorising the payment")
    assert stored(found).progress == "Charge Pending"

    fake.orders[found["provider_order_id"]]["orderState"] = final_state
    settled = read(api, order["id"])

    assert settled["status"] == expected
    assert fake.requests[-1].path == f"/v1/shoppers/me/orders/{found['provider_order_id']}"
    assert len(fake.purchase_requests()) == 1


def test_a_lost_token_answer_fails_the_order_with_nothing_sent(api, fake, shopper_method):
    fake.fail_next("timeout")  # meets the token request: nothing was bought

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == ("failed", "provider_unavailable")
    assert not fake.purchase_requests()


@pytest.mark.parametrize("acted", [True, False])
def test_a_redirect_to_a_maintenance_page_is_no_order(api, fake, shopper_method, acted):
    """Defect: ``302 Location: …/maintenance`` completed the order with provider id "maintenance"."""
    buy(api)  # warm the token cache, so the redirect meets the purchase
    fake.redirect_next_purchase(acted=acted)

    order = buy(api).json()

    assert (order["status"], order["provider_order_id"]) == ("unknown", "")
    assert not OneClickOrder.objects.filter(provider_order_id="maintenance").exists()


def test_a_200_instead_of_201_created_is_no_confirmed_order(api, fake, shopper_method):
    buy(api)
    fake.answer_next_purchase_with_200()

    order = buy(api).json()

    assert (order["status"], order["provider_order_id"]) == ("unknown", "")
    assert len(fake.purchase_requests()) == 2


def test_an_earlier_purchase_of_the_same_product_never_settles_a_lost_one(api, fake, shopper_method):
    """Defect: the customer bought X minutes ago (order 111); a second purchase of X met a 500
    and was completed with 111: one charge, two fulfilments."""
    fake.add_past_order(SHOPPER, PRODUCT, timezone.now() - timedelta(minutes=3), order_id="111", state="Complete")
    fake.fail_next_with("server-error")
    order = buy(api).json()
    assert order["status"] == "unknown"

    for _ in range(2):
        settled = read(api, order["id"])
        assert (settled["status"], settled["provider_order_id"]) == ("unknown", "")
    stored = OneClickOrder.objects.get(public_id=order["id"])
    assert "111" not in [c["provider_order_id"] for c in stored.candidates]
    assert not OneClickOrder.objects.filter(provider_order_id="111").exists()


def test_a_retry_after_an_unknown_order_is_no_candidate_for_it(api, fake, shopper_method):
    """The customer retries after an unknown purchase and the retry completes: the retry's order
    settles the retry, never the first purchase as well."""
    buy(api)  # warm the token cache
    fake.orders.clear()
    fake.fail_next_with("server-error")  # nothing placed
    first = buy(api).json()
    retry = buy(api).json()
    assert (first["status"], retry["status"]) == ("unknown", "completed")

    settled = read(api, first["id"])

    assert (settled["status"], settled["provider_order_id"]) == ("unknown", "")
    assert OneClickOrder.objects.get(public_id=first["id"]).candidates == []
    assert OneClickOrder.objects.filter(provider_order_id=retry["provider_order_id"]).count() == 1
