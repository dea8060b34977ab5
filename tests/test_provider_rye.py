"""Rye through the REST API and the services, against the Rye fake on 127.0.0.1."""

import ast
import inspect
import json
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.offers import Offer
from django_oneclick.orders import refresh_order
from django_oneclick.providers.base import Buyer, ProviderUnavailable, PurchaseRequest, SavedMethod
from django_oneclick.providers.http import ratelimit_reset_seconds, retry_after_seconds
from django_oneclick.providers.rye import FAILURE_MESSAGES, RyeProvider
from django_oneclick.testing import rye as rye_fake_module
from django_oneclick.testing.rye import FAILURE_REASONS, RyeFake
from tests.conftest import add_method
from tests.shop.offers import CATALOGUE

ORDERS = "/oneclick/api/orders/"
PRODUCT_URL = "https://merchant.example/products/headphones"
TOKEN = "tok_1RkrWWHGDlstla3f1Fc7ZrhH"
#: The merchant's price for one pair, 24.99, plus 5.99 shipping and 8% tax (2.00): Rye's total.
MERCHANT_TOTAL = 2499 + 599 + 200
RYE_OFFERS = {
    # The shop sells at the merchant's price and declares what shipping and tax may add: the button
    # shows "up to $34.99", which is the cap sent.
    "headphones": Offer(
        "headphones", "Headphones", Decimal("24.99"), "USD", {"rye": PRODUCT_URL}, charges_allowance=Decimal("10.00")
    ),
    # The same product shown at its bare price, as if shipping and tax were included.
    "headphones-bare": Offer("headphones-bare", "Headphones", Decimal("24.99"), "USD", {"rye": PRODUCT_URL}),
    **CATALOGUE,
}


def resolve_offer(reference):
    return RYE_OFFERS.get(reference)


def german_buyer(user):
    return Buyer("Ada", "Lovelace", user.email, "+4930123456789", "Unter den Linden 1", "Berlin", "BE", "10117", "DE")


@pytest.fixture
def rye_fake():
    with RyeFake() as fake:
        yield fake


@pytest.fixture
def rye(settings, rye_fake):
    """Rye configured against the fake, with a product it can buy at the merchant's price."""
    rye_fake.prices[PRODUCT_URL] = 2499
    rye_fake.shipping_cost = 599
    rye_fake.tax_rate = Decimal("0.08")
    settings.ONECLICK = {
        **settings.ONECLICK,
        "PRODUCT_RESOLVER": "tests.test_provider_rye.resolve_offer",
        "STATUS_REFRESH_INTERVAL": timedelta(0),
        "PROVIDERS": {
            **settings.ONECLICK["PROVIDERS"],
            "rye": {"BACKEND": rye_fake.backend, **rye_fake.provider_options(), "READ_TIMEOUT": 1},
        },
    }
    return rye_fake


def add_rye_method(user, reference=TOKEN, **data):
    return add_method(user, reference, provider="rye", label="Visa •••• 4242", data=data or {"type": "stripe_token"})


def buy(api, key="rye-1", **body):
    body = {"product": "headphones", "quantity": 1, **body}
    return api.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def purchases(fake):
    return [r for r in fake.requests if r.method == "POST"]


def status_fetches(fake):
    return [r for r in fake.requests if r.method == "GET"]


def refresh(public_id):
    return refresh_order(OneClickOrder.objects.get(public_id=public_id))


def stored_text(order_id):
    """Everything the database keeps about an order's exchanges and the order itself."""
    order = OneClickOrder.objects.filter(public_id=order_id).values().first()
    rows = list(ProviderExchange.objects.values("request", "response", "error"))
    return json.dumps([order, rows], default=str)


# --- the purchase -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_purchase_sends_the_documented_body_and_ends_processing(api, customer, rye):
    add_rye_method(customer)
    response = buy(api, quantity=2, options={"promo_codes": ["SAVE-10", "WELCOME_5"]})
    assert response.status_code == 201, response.content
    data = response.json()
    intent_id = next(iter(rye.intents))
    assert (data["status"], data["progress"], data["progress_step"]) == (
        "processing",
        "Confirming the price",
        "confirming_price",
    )
    assert OneClickOrder.objects.get().progress == "retrieving_offer"  # Rye's state, for the operator
    assert data["provider_order_id"] == intent_id
    assert data["total"] == "49.98"
    (sent,) = purchases(rye)
    assert sent.path == "/api/v1/checkout-intents/purchase"
    assert sent.header("authorization") == f"Bearer {rye.api_key}"
    assert sent.header("idempotency-key") == data["id"]
    assert sent.json() == {
        "buyer": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "alice@example.com",
            "phone": "+12125551234",
            "address1": "1 Main Street",
            "city": "New York",
            "province": "NY",
            "postalCode": "10001",
            "country": "US",
        },
        "productUrl": PRODUCT_URL,
        "quantity": 2,
        "paymentMethod": {"type": "stripe_token", "stripeToken": TOKEN},
        "constraints": {"maxTotalPrice": 5998},  # 2 x 24.99 + the 10.00 allowance, as the button showed
        "referenceId": data["id"],
        "promoCodes": ["SAVE-10", "WELCOME_5"],
    }
    assert status_fetches(rye) == [], "the customer's request must not poll"


@pytest.mark.django_db
def test_status_reads_follow_the_intent_to_completed(api, customer, rye):
    add_rye_method(customer)
    order_id = buy(api).json()["id"]
    first = api.get(f"{ORDERS}{order_id}/").json()
    assert (first["status"], first["progress"]) == ("processing", "Placing the order")
    assert OneClickOrder.objects.get().progress == "placing_order"
    done = api.get(f"{ORDERS}{order_id}/").json()
    intent = next(iter(rye.intents.values()))
    assert (done["status"], done["provider_order_id"], done["is_final"]) == ("completed", intent.order_id, True)
    assert [r.path for r in status_fetches(rye)] == [f"/api/v1/checkout-intents/{intent.id}"] * 2


@pytest.mark.django_db
def test_x402_payment_requires_action_with_the_next_action(api, customer, rye):
    add_rye_method(customer, "", type="x402", network="base")
    order_id = buy(api).json()["id"]
    order = refresh(order_id)
    assert order.status == "requires_action"
    assert order.next_action["type"] == "x402"
    assert order.next_action["x402"]["network"] == "base"
    assert purchases(rye)[0].json()["paymentMethod"] == {"type": "x402", "network": "base"}


def test_every_documented_failure_reason_has_its_own_message():
    assert set(FAILURE_MESSAGES) == set(FAILURE_REASONS)
    generic = FAILURE_MESSAGES["unknown"]
    assert all(message != generic for code, message in FAILURE_MESSAGES.items() if code != "unknown")


def test_failure_reasons_match_the_official_sdk():
    """The SDK is generated from Rye's newest OpenAPI document: a code added there shows here."""
    checkout_intent = pytest.importorskip("checkout_intents.types.checkout_intent")
    from typing import get_args

    codes = get_args(checkout_intent.FailedCheckoutIntentFailureReason.model_fields["code"].annotation)
    assert set(codes) == set(FAILURE_MESSAGES)


@pytest.mark.django_db
@pytest.mark.parametrize("reason", FAILURE_REASONS)
def test_each_failure_reason_fails_the_order_with_its_message(api, customer, rye, reason):
    add_rye_method(customer)
    rye.fail_next_purchase(reason)
    order_id = buy(api).json()["id"]
    assert refresh(order_id).status == "processing"
    data = api.get(f"{ORDERS}{order_id}/").json()
    assert (data["status"], data["error_code"]) == ("failed", f"rye_{reason}")
    assert data["customer_message"] == FAILURE_MESSAGES[reason]
    assert "error_message" not in data
    # The operator reads Rye's own code and message.
    assert refresh(order_id).error_message.endswith(f": {reason}: Fake failure: {reason}.")


@pytest.mark.django_db
def test_a_merchant_price_rise_beyond_the_allowance_fails_with_the_total_constraint(api, customer, rye):
    add_rye_method(customer)
    rye.prices[PRODUCT_URL] = 2900  # 29.00 + 5.99 + 2.32 tax = 37.31, above the 34.99 shown
    order_id = buy(api).json()["id"]
    order = refresh(order_id)
    assert (order.status, order.error_code) == ("failed", "rye_constraint_total_price_exceeded")
    assert order.customer_message == FAILURE_MESSAGES["constraint_total_price_exceeded"]
    assert "constraint_total_price_exceeded" in order.error_message


# --- the cap: what the button showed, shipping and tax included ---------------------------------


@pytest.mark.django_db
def test_shipping_and_tax_above_the_shown_price_fail_with_a_plain_message(api, customer, rye):
    add_rye_method(customer)
    data = buy(api, product="headphones-bare").json()
    assert purchases(rye)[0].json()["constraints"] == {"maxTotalPrice": 2499}
    assert data["status"] == "processing"
    data = api.get(f"{ORDERS}{data['id']}/").json()
    assert (data["status"], data["error_code"]) == ("failed", "rye_constraint_total_price_exceeded")
    assert data["customer_message"] == FAILURE_MESSAGES["constraint_total_price_exceeded"]
    assert "more than the price shown" in data["customer_message"]
    assert "nothing was charged" in data["customer_message"]
    (intent,) = rye.intents.values()
    assert intent.render()["offer"]["cost"]["total"]["amountSubunits"] == MERCHANT_TOTAL


@pytest.mark.django_db
def test_an_allowance_covering_shipping_and_tax_completes(api, customer, rye):
    add_rye_method(customer)
    order_id = buy(api).json()["id"]
    assert refresh(order_id).status == "processing"
    order = refresh(order_id)
    (intent,) = rye.intents.values()
    assert (order.status, order.provider_order_id) == ("completed", intent.order_id)
    cost = intent.render()["offer"]["cost"]
    assert {part: money["amountSubunits"] for part, money in cost.items()} == {
        "subtotal": 2499, "shipping": 599, "tax": 200, "total": MERCHANT_TOTAL
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("allowance", "cap", "status"),
    [("0", 2499, "failed"), ("7.98", 3297, "failed"), ("7.99", 3298, "completed"), ("10.00", 3499, "completed")],
)
def test_the_cap_sent_is_the_orders_max_total_in_cents(api, customer, rye, monkeypatch, allowance, cap, status):
    offer = Offer("headphones", "Headphones", Decimal("24.99"), "USD", {"rye": PRODUCT_URL}, Decimal(allowance))
    monkeypatch.setitem(RYE_OFFERS, "headphones", offer)
    add_rye_method(customer)
    order_id = buy(api).json()["id"]
    order = OneClickOrder.objects.get(public_id=order_id)
    assert order.max_total == Decimal("24.99") + Decimal(allowance)
    assert purchases(rye)[0].json()["constraints"] == {"maxTotalPrice": cap} == {"maxTotalPrice": order.max_total * 100}
    refresh(order_id)
    assert refresh(order_id).status == status


@pytest.mark.parametrize(("max_total", "cap"), [(None, 4998), (Decimal("59.98"), 5998), (Decimal("59.989"), 5998)])
def test_the_cap_is_max_total_rounded_down_else_the_total(max_total, cap):
    buyer = Buyer("Ada", "Lovelace", "ada@example.com", "+12125551234", "1 Main St", "New York", "NY", "10001", "US")
    request = PurchaseRequest(
        "order-1", PRODUCT_URL, "Headphones", 2, Decimal("24.99"), Decimal("49.98"), "USD",
        SavedMethod(TOKEN, data={"type": "stripe_token"}), "1", buyer=buyer, max_total=max_total,
    )
    body = RyeProvider("rye", {"API_KEY": "k"}).purchase_body(request)
    assert body["constraints"] == {"maxTotalPrice": cap}


# --- refused before anything is written or sent -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("product", "method_data", "options", "expected"),
    [
        ("book", {"type": "stripe_token"}, {}, "US dollars only"),
        ("lamp", {"type": "stripe_token"}, {}, "no Rye product URL"),
        ("headphones", {}, {}, "cannot be used with Rye"),
        ("headphones", {"type": "paypal"}, {}, "cannot be used with Rye"),
        ("headphones", {"type": "x402", "network": "bitcoin"}, {}, "needs a network"),
        ("headphones", {"type": "stripe_token"}, {"promo_codes": ["SAVE 10"]}, "promo codes"),
        ("headphones", {"type": "stripe_token"}, {"promo_codes": ["X" * 33]}, "promo codes"),
        ("headphones", {"type": "stripe_token"}, {"promo_codes": [f"C{i}" for i in range(17)]}, "promo codes"),
        ("headphones", {"type": "stripe_token"}, {"promo_codes": "SAVE10"}, "a list of at most 16 promo codes"),
        ("headphones", {"type": "stripe_token"}, {"promo_codes": 5}, "a list of at most 16 promo codes"),
        ("headphones", {"type": "stripe_token"}, {"promo_codes": {"SAVE10": 1}}, "a list of at most 16 promo codes"),
    ],
)
def test_what_rye_would_refuse_is_a_400_before_anything_is_written(
    api, customer, rye, product, method_data, options, expected
):
    add_method(customer, TOKEN, provider="rye", label="Rye card", data=method_data)
    response = buy(api, product=product, options=options)
    assert response.status_code == 400, response.content
    assert expected in json.dumps(response.json())
    assert not OneClickOrder.objects.exists()
    assert rye.requests == []


@pytest.mark.django_db
def test_a_non_us_address_is_refused(api, customer, rye, settings):
    settings.ONECLICK = {**settings.ONECLICK, "BUYER_RESOLVER": "tests.test_provider_rye.german_buyer"}
    add_rye_method(customer)
    response = buy(api)
    assert response.status_code == 400
    assert "United States only" in response.json()["non_field_errors"][0]
    assert rye.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"phone": "12345"}, "phone number"),
        ({"postal_code": "ABC"}, "ZIP code"),
        ({"email": "not-an-email"}, "valid email"),
        ({"city": " "}, "lack: city"),
        ({"address1": "x" * 256}, "Shorten your address1"),
    ],
)
def test_an_invalid_address_is_refused(rye, change, expected):
    from dataclasses import replace

    from django_oneclick.providers.rye import rye_buyer_problems as buyer_problems

    buyer = Buyer("Ada", "Lovelace", "ada@example.com", "+12125551234", "1 Main St", "New York", "NY", "10001", "US")
    assert buyer_problems(buyer) == []
    assert expected in " ".join(buyer_problems(replace(buyer, **change)))


@pytest.mark.django_db
def test_no_address_at_all_is_refused(api, rye):
    from django.contrib.auth import get_user_model

    from tests.conftest import add_method as add

    user = get_user_model().objects.create_user("noemail", "", "pw")
    add(user, TOKEN, provider="rye", label="Rye", data={"type": "stripe_token"})
    api.force_login(user)
    response = buy(api)
    assert response.status_code == 400
    assert "shipping address" in response.json()["non_field_errors"][0]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_wrong_api_key_fails_cleanly_without_showing_it(api, customer, rye, settings):
    wrong_key = "RYE/staging-wrong-key-123456"
    options = {**settings.ONECLICK["PROVIDERS"]["rye"], "API_KEY": wrong_key}
    settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": {**settings.ONECLICK["PROVIDERS"], "rye": options}}
    add_rye_method(customer)
    data = buy(api).json()
    assert (data["status"], data["error_code"]) == ("failed", "authentication_failed")
    assert "AuthenticationError" in OneClickOrder.objects.get().error_message
    assert wrong_key not in stored_text(data["id"])


@pytest.mark.django_db
def test_a_validation_error_names_the_field_but_never_its_value(api, customer, rye):
    add_rye_method(customer)
    rye.reject_next(422, field_path="paymentMethod.stripeToken")
    data = buy(api).json()
    assert (data["status"], data["error_code"]) == ("failed", "invalid_request")
    assert "requestBody.paymentMethod.stripeToken: invalid value" in OneClickOrder.objects.get().error_message
    assert "stripeToken" not in data["customer_message"]  # Rye's words are the operator's
    assert TOKEN not in stored_text(data["id"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (429, {"RateLimit-Policy": '"intents";q=50;w=86400', "RateLimit": '"intents";r=0;t=30'}, 30),
        (429, {"Retry-After": "7", "RateLimit": '"intents";r=0;t=30'}, 7),
        (503, {"Retry-After": "120"}, 120),
        (503, {}, None),
    ],
)
def test_rate_limits_and_unavailability_are_retryable_with_the_servers_hint(rye, status, headers, wait):
    provider = RyeProvider("rye", rye.provider_options())
    rye.reject_next(status, **headers)
    with pytest.raises(ProviderUnavailable) as raised:
        provider.fetch_status(_status_request("ci_x"), _NoLog())
    assert raised.value.nothing_charged
    assert raised.value.retry_after == wait


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "outcome"), [(429, "failed"), (503, "failed"), (500, "unknown")])
def test_purchase_errors_leave_a_defined_state(api, customer, rye, status, outcome):
    add_rye_method(customer)
    rye.reject_next(status)
    data = buy(api).json()
    assert data["status"] == outcome
    assert data["error_code"] == {"failed": "provider_unavailable", "unknown": "outcome_unknown"}[outcome]
    assert len(purchases(rye)) == 1, "never sent twice"


@pytest.mark.django_db
def test_a_gateway_503_after_the_purchase_was_sent_is_unknown_and_reconciled(api, customer, rye):
    add_rye_method(customer)
    rye.fail_next("gateway_error")  # Rye created the intent; a gateway answered 503
    data = buy(api).json()
    assert (data["status"], data["error_code"]) == ("unknown", "outcome_unknown")
    order = refresh(data["id"])
    assert (order.status, order.provider_order_id) == ("processing", next(iter(rye.intents)))
    assert len(purchases(rye)) == 1, "never sent twice"


def test_ratelimit_headers():
    def response(**headers):
        return httpx.Response(429, headers=headers)

    several = '"burst";r=4;t=1, "day";r=0;t=3600, "hour";r=0;t=60'
    assert ratelimit_reset_seconds(response(RateLimit=several)) == 3600
    assert ratelimit_reset_seconds(response(RateLimit='"burst";r=2;t=5')) == 5
    assert ratelimit_reset_seconds(response(**{"RateLimit-Reset": "12"})) == 12
    assert ratelimit_reset_seconds(response(RateLimit="garbage")) is None
    assert retry_after_seconds(response(**{"Retry-After": "3", "RateLimit-Reset": "12"})) == 3
    assert retry_after_seconds(response()) is None


@pytest.mark.django_db
def test_a_missing_intent_on_fetch_is_order_not_found(rye):
    from django_oneclick.providers.base import OrderNotFound

    with pytest.raises(OrderNotFound):
        RyeProvider("rye", rye.provider_options()).fetch_status(_status_request("ci_nope"), _NoLog())


# --- an unknown purchase outcome, reconciled through the list of intents ----------------------


@pytest.mark.django_db
def test_a_timed_out_purchase_is_found_by_its_reference_never_resent(api, customer, rye):
    add_rye_method(customer)
    rye.hang_seconds = 2
    rye.fail_next("timeout")
    data = buy(api).json()
    assert (data["status"], data["provider_order_id"]) == ("unknown", "")
    order = refresh(data["id"])
    intent = next(iter(rye.intents.values()))
    assert (order.status, order.provider_order_id) == ("processing", intent.id)
    assert [r.path for r in status_fetches(rye)] == ["/api/v1/checkout-intents"]
    assert refresh(data["id"]).status == "processing"
    assert refresh(data["id"]).status == "completed"
    assert len(purchases(rye)) == 1


@pytest.mark.django_db
def test_the_lookup_reads_further_pages_until_it_finds_the_order(api, customer, rye):
    add_rye_method(customer)
    rye.fail_next("timeout")
    rye.hang_seconds = 2
    order_id = buy(api).json()["id"]
    for number in range(150):
        rye.add_intent({"quantity": 1, "productUrl": PRODUCT_URL, "referenceId": f"other-{number}"})
    assert refresh(order_id).status == "processing"
    lists = [r for r in status_fetches(rye) if r.path == "/api/v1/checkout-intents"]
    assert [r.query.get("after") is not None for r in lists] == [False, True]


@pytest.mark.django_db
def test_an_order_rye_never_recorded_fails_only_after_the_wait(api, customer, rye):
    add_rye_method(customer)
    rye.reject_next(500)  # refused before acting: no intent exists
    order_id = buy(api).json()["id"]
    assert refresh(order_id).status == "unknown", "too early to say it was never placed"
    OneClickOrder.objects.filter(public_id=order_id).update(created_at=timezone.now() - timedelta(minutes=11))
    order = refresh(order_id)
    assert (order.status, order.error_code) == ("failed", "not_placed")


@pytest.mark.django_db
def test_a_404_on_the_list_never_fails_an_unknown_order(api, customer, rye):
    add_rye_method(customer)
    rye.reject_next(500)
    order_id = buy(api).json()["id"]
    OneClickOrder.objects.filter(public_id=order_id).update(created_at=timezone.now() - timedelta(minutes=11))
    rye.reject_next(404)  # e.g. a proxy in front of Rye without the list route
    order = refresh(order_id)
    assert (order.status, order.refresh_attempts) == ("unknown", 1)
    assert [r.path for r in status_fetches(rye)] == ["/api/v1/checkout-intents"]


@pytest.mark.django_db
def test_an_unreferenced_intent_of_the_same_time_needs_an_operator(api, customer, rye, caplog):
    add_rye_method(customer)
    rye.reject_next(500)
    order_id = buy(api).json()["id"]
    placed_at = timezone.now() - timedelta(minutes=11)
    OneClickOrder.objects.filter(public_id=order_id).update(created_at=placed_at)
    rye.add_intent({"quantity": 1, "productUrl": PRODUCT_URL}, created_at=placed_at.isoformat())
    order = refresh(order_id)
    assert order.status == "unknown"
    assert order.refresh_attempts == 1
    assert "an operator must check" in caplog.text


# --- secrets ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_api_key_or_token_in_exchanges_logs_or_admin(api, customer, rye, caplog, client, django_user_model):
    caplog.set_level("DEBUG")
    add_rye_method(customer)
    order_id = buy(api).json()["id"]
    refresh(order_id)
    refresh(order_id)
    assert OneClickOrder.objects.get(public_id=order_id).status == "completed"
    assert ProviderExchange.objects.count() == 3
    text = stored_text(order_id)
    for secret in (rye.api_key, TOKEN):
        assert secret not in text
        assert secret not in caplog.text
    assert "stripeToken" in text, "the payment method is logged, with its token redacted"
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    order = OneClickOrder.objects.get(public_id=order_id)
    page = client.get(f"/admin/django_oneclick/oneclickorder/{order.pk}/change/")
    assert page.status_code == 200
    assert rye.api_key not in page.content.decode() and TOKEN not in page.content.decode()


# --- the fake itself follows the documented schema ----------------------------------------------


def _valid_body():
    return {
        "buyer": {
            "firstName": "John",
            "lastName": "Doe",
            "email": "john.doe@example.com",
            "phone": "1234567890",
            "address1": "123 Main St",
            "city": "New York",
            "province": "NY",
            "postalCode": "10001",
            "country": "US",
        },
        "paymentMethod": {"stripeToken": "tok_1RkrWWHGDlstla3f1Fc7ZrhH", "type": "stripe_token"},
        "productUrl": "https://www.amazon.com/dp/B0DFC9MT8Q",
        "quantity": 1,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("buyer"), "requestBody.buyer"),
        (lambda b: b["buyer"].pop("phone"), "requestBody.buyer.phone"),
        (lambda b: b.update(quantity="1"), "requestBody.quantity"),
        (lambda b: b.update(quantity=True), "requestBody.quantity"),
        (lambda b: b.update(productUrl=5), "requestBody.productUrl"),
        (lambda b: b.update(paymentMethod={"type": "card", "number": "4242"}), "requestBody.paymentMethod"),
        (lambda b: b.update(paymentMethod={"type": "stripe_token"}), "requestBody.paymentMethod.stripeToken"),
        (lambda b: b.update(paymentMethod={"type": "x402", "network": "eth"}), "requestBody.paymentMethod.network"),
        (lambda b: b.update(promoCodes=["OK", "not ok"]), "requestBody.promoCodes.$[1]"),
        (lambda b: b.update(promoCodes=["A" * 33]), "requestBody.promoCodes.$[0]"),
        (lambda b: b.update(promoCodes=[f"C{i}" for i in range(17)]), "requestBody.promoCodes"),
        (lambda b: b.update(constraints={"maxTotalPrice": -1}), "requestBody.constraints.maxTotalPrice"),
        (lambda b: b.update(variantSelections=[{"label": "Size"}]), "requestBody.variantSelections.$[0].value"),
        (
            lambda b: b.update(variantSelections=[{"label": "S" * 31, "value": 1}]),
            "requestBody.variantSelections.$[0].label",
        ),
        (lambda b: b.update(variantSelections={"Size": "L"}), "requestBody.variantSelections"),
        (lambda b: b.update(quantity=2**31), "requestBody.quantity"),
        (lambda b: b.update(quantity=1.5), "requestBody.quantity"),
        (lambda b: b["buyer"].update(address2="x" * 256), "requestBody.buyer.address2"),
        (lambda b: b["buyer"].update(postalCode=10001), "requestBody.buyer.postalCode"),
        (lambda b: b.update(buyer="Ada"), "requestBody.buyer"),
        (lambda b: b.update(paymentMethod={"type": ["stripe_token"], "stripeToken": "t"}), "requestBody.paymentMethod"),
        (lambda b: b.update(paymentMethod={"type": "nekuda_token"}), "requestBody.paymentMethod.nekudaUserId"),
        (
            lambda b: b.update(paymentMethod={"type": "nekuda_token", "nekudaUserId": "u", "nekudaMandateData": []}),
            "requestBody.paymentMethod.nekudaMandateData",
        ),
        (lambda b: b.update(promoCodes=["SAVE10\n"]), "requestBody.promoCodes.$[0]"),
        (lambda b: b.update(promoCodes=[""]), "requestBody.promoCodes.$[0]"),
        (lambda b: b.update(promoCodes="SAVE10"), "requestBody.promoCodes"),
        (lambda b: b.update(promoCodes=None), "requestBody.promoCodes"),
        (lambda b: b.update(discoverPromoCodes="yes"), "requestBody.discoverPromoCodes"),
        (lambda b: b.update(referenceId=5), "requestBody.referenceId"),
        (lambda b: b.update(constraints=[]), "requestBody.constraints"),
        (lambda b: b.update(constraints={"maxTotalPrice": 19.99}), "requestBody.constraints.maxTotalPrice"),
        (lambda b: b.update(constraints={"maxTotalPrice": "2000"}), "requestBody.constraints.maxTotalPrice"),
        (lambda b: b.update(constraints={"maxShippingPrice": -5}), "requestBody.constraints.maxShippingPrice"),
        (lambda b: b.update(constraints={"offerRetrievalEffort": "x"}), "requestBody.constraints.offerRetrievalEffort"),
        (lambda b: b.update(constraints={"offerRetrievalEffort": 1}), "requestBody.constraints.offerRetrievalEffort"),
    ],
)
def test_the_fake_refuses_bodies_rye_refuses(rye_fake, change, field):
    body = _valid_body()
    change(body)
    headers = {"Authorization": f"Bearer {rye_fake.api_key}"}
    response = httpx.post(f"{rye_fake.base_url}/api/v1/checkout-intents/purchase", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["name"] == "ValidateError"
    assert field in response.json()["fields"]


def _post_purchase(fake, body, **headers):
    headers = {"Authorization": f"Bearer {fake.api_key}", **headers}
    return httpx.post(f"{fake.base_url}/api/v1/checkout-intents/purchase", json=body, headers=headers)


def _fetch(fake, intent_id):
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    return httpx.get(f"{fake.base_url}/api/v1/checkout-intents/{intent_id}", headers=headers)


def test_the_fake_prices_like_a_merchant_whatever_the_cap(rye_fake):
    """19.99 at the merchant (the fake's default), 5.99 shipping, 8.875% tax on 19.99 = 1.77."""
    for cap in (100000, 2775):
        intent = _post_purchase(rye_fake, {**_valid_body(), "constraints": {"maxTotalPrice": cap}}).json()
        assert "offer" not in intent, "no offer while it is being retrieved"
        offer = _fetch(rye_fake, intent["id"]).json()["offer"]
        assert {part: money["amountSubunits"] for part, money in offer["cost"].items()} == {
            "subtotal": 1999, "shipping": 599, "tax": 177, "total": 2775
        }
        assert {money["currencyCode"] for money in offer["cost"].values()} == {"USD"}
        assert offer["shipping"]["availableOptions"][0]["cost"]["amountSubunits"] == 599


@pytest.mark.parametrize(
    ("constraints", "failure"),
    [
        ({"maxTotalPrice": 2774}, "constraint_total_price_exceeded"),
        ({"maxTotalPrice": 0}, "constraint_total_price_exceeded"),
        ({"maxShippingPrice": 500}, "constraint_shipping_cost_exceeded"),
    ],
)
def test_the_fake_fails_an_intent_whose_offer_exceeds_a_constraint(rye_fake, constraints, failure):
    rye_fake.plan_next("retrieving_offer", "placing_order", "completed")
    intent = _post_purchase(rye_fake, {**_valid_body(), "constraints": constraints}).json()
    assert intent["state"] == "retrieving_offer"
    failed = _fetch(rye_fake, intent["id"]).json()
    assert failed["state"] == "failed"
    assert failed["failureReason"]["code"] == failure
    assert failed["offer"]["cost"]["total"]["amountSubunits"] == 2775
    assert "orderId" not in failed
    assert rye_fake._plans == [], "the planned course was the refused purchase's"


def test_the_fake_does_not_deduplicate_by_an_undocumented_idempotency_key(rye_fake):
    first = _post_purchase(rye_fake, _valid_body(), **{"Idempotency-Key": "order-1"}).json()
    second = _post_purchase(rye_fake, _valid_body(), **{"Idempotency-Key": "order-1"}).json()
    assert first["id"] != second["id"]
    assert len(rye_fake.intents) == 2


def test_the_fake_checks_with_its_own_code():
    tree = ast.parse(inspect.getsource(rye_fake_module))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name.startswith("django_oneclick.providers.rye")]


def test_the_fake_accepts_the_documented_example_and_checks_the_key(rye_fake):
    url = f"{rye_fake.base_url}/api/v1/checkout-intents/purchase"
    assert httpx.post(url, json=_valid_body(), headers={"Authorization": "Bearer nope"}).status_code == 401
    response = httpx.post(url, json=_valid_body(), headers={"Authorization": f"Bearer {rye_fake.api_key}"})
    assert response.status_code == 201
    assert response.json()["state"] == "retrieving_offer"
    assert {"id", "createdAt", "buyer", "quantity", "productUrl"} <= set(response.json())


# --- helpers ------------------------------------------------------------------------------------


class _NoLog:
    def record(self, exchange):
        pass


def _status_request(provider_order_id):
    from django_oneclick.providers.base import SavedMethod, StatusRequest

    return StatusRequest("order-1", provider_order_id, SavedMethod(TOKEN), timezone.now())
