"""CSRF, IDOR, the customer's IP, and no card number or secret in the database or the logs."""

import logging
from dataclasses import dataclass

import pytest
from django.core import serializers
from django.test import RequestFactory
from rest_framework.test import APIClient

from django_oneclick.client_ip import client_ip
from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from django_oneclick.providers.base import PaymentDeclined, ProviderResult, ProviderStatus, option
from django_oneclick.providers.sandbox import SandboxOptions, SandboxProvider
from tests.conftest import add_method

ORDERS = "/oneclick/api/orders/"
METHODS = "/oneclick/api/payment-methods/"

# --- CSRF -----------------------------------------------------------------------------------


@pytest.fixture
def browser(customer):
    """A client signed in with a real session (password login) that enforces CSRF."""
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password="pw")
    return client


CSRF_TOKEN = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6"


def with_token(client):
    client.cookies["csrftoken"] = CSRF_TOKEN
    return {"HTTP_X_CSRFTOKEN": CSRF_TOKEN}


@pytest.mark.django_db
def test_order_without_csrf_token_is_refused(browser, customer):
    add_method(customer)
    response = browser.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert OneClickOrder.objects.count() == 0


@pytest.mark.django_db
def test_order_with_csrf_token_is_placed(browser, customer):
    add_method(customer)
    response = browser.post(
        ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k", **with_token(browser)
    )
    assert response.status_code == 201
    assert OneClickOrder.objects.get().owner == customer


@pytest.mark.django_db
def test_wrong_csrf_token_is_refused(browser, customer):
    add_method(customer)
    browser.cookies["csrftoken"] = CSRF_TOKEN
    response = browser.post(
        ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k",
        HTTP_X_CSRFTOKEN="f" * 32,
    )
    assert response.status_code == 403
    assert OneClickOrder.objects.count() == 0


@pytest.mark.django_db
def test_method_changes_need_the_csrf_token(browser, customer):
    first = add_method(customer, "approved:a", default=True)
    second = add_method(customer, "approved:b", default=False)
    assert browser.post(f"{METHODS}{second.pk}/default/").status_code == 403
    assert browser.delete(f"{METHODS}{first.pk}/").status_code == 403
    assert browser.post(METHODS, {"provider": "sandbox", "data": {}}, format="json").status_code == 403
    assert PaymentMethod.objects.get(is_default=True) == first
    assert PaymentMethod.objects.count() == 2

    token = with_token(browser)
    assert browser.post(f"{METHODS}{second.pk}/default/", **token).status_code == 200
    assert PaymentMethod.objects.get(is_default=True) == second


@pytest.mark.django_db
def test_reading_needs_no_csrf_token(browser, customer):
    assert browser.get(ORDERS).status_code == 200
    assert browser.get(METHODS).status_code == 200


# --- IDOR: another customer's things do not exist for you -----------------------------------


@pytest.fixture
def theirs(other_customer):
    """Bob's default method and a completed order of his."""
    method = add_method(other_customer, "approved:bob", default=True)
    spare = add_method(other_customer, "approved:spare", default=False)
    client = APIClient()
    client.force_login(other_customer)
    order = client.post(ORDERS, {"product": "lamp"}, format="json", HTTP_IDEMPOTENCY_KEY="b").json()
    return method, spare, order


@pytest.mark.django_db
def test_another_customers_order_is_404(api, customer, theirs):
    _, _, order = theirs
    response = api.get(f"{ORDERS}{order['id']}/")
    assert response.status_code == 404
    assert order["provider_order_id"] not in response.content.decode()
    assert api.get(ORDERS).json()["count"] == 0


@pytest.mark.django_db
def test_another_customers_method_cannot_be_seen_made_default_or_removed(api, customer, theirs):
    method, spare, _ = theirs
    add_method(customer, "approved:mine")
    assert api.get(f"{METHODS}{method.pk}/").status_code == 404
    assert api.post(f"{METHODS}{spare.pk}/default/").status_code == 404
    assert api.delete(f"{METHODS}{method.pk}/").status_code == 404
    assert PaymentMethod.objects.filter(owner=method.owner, is_default=True).get() == method
    assert PaymentMethod.objects.filter(owner=method.owner).count() == 2
    assert [m["label"] for m in api.get(METHODS).json()] == ["Sandbox approved:mine"]


@pytest.mark.django_db
def test_buying_with_another_customers_method_is_a_field_error(api, customer, theirs):
    method, _, _ = theirs
    add_method(customer, "approved:mine")
    response = api.post(
        ORDERS, {"product": "book", "payment_method": method.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400
    assert response.json() == {"payment_method": ["No such saved payment method."]}
    assert OneClickOrder.objects.filter(owner=customer).count() == 0
    assert ProviderExchange.objects.count() == 1  # bob's own purchase only


# --- no card number or secret is stored or logged -------------------------------------------

SECRET = "sk_live_Zq8v3XrT9bLmN2pQ"
PAN = "4111111111111111"
PAN_SPACED = "4111 1111 1111 1111"


@dataclass(frozen=True)
class CarelessOptions(SandboxOptions):
    API_SECRET: str = option(secret=True)
    FAIL_WITH: str = ""


class CarelessSandbox(SandboxProvider):
    """A sandbox that behaves like a chatty real provider: it sends its API secret, and its
    answers and errors echo the secret and card data back. ``FAIL_WITH`` picks a failure."""

    options_class = CarelessOptions
    options: CarelessOptions

    def purchase(self, request, log):
        secret = self.options.API_SECRET
        with self.exchange(log, "authenticate", {"client": "shop-1", "credential": secret}) as draft:
            draft.http_status = 200
            draft.response = {
                "echo": f"Bearer {secret}",
                "account": int(PAN),
                "last_card": f"{PAN_SPACED} 12/30",
            }
        failure = self.options.FAIL_WITH
        if failure == "exception":
            raise PaymentDeclined(f"Card {PAN} refused for key {secret}")
        if failure == "result":
            return ProviderResult(
                ProviderStatus.FAILED, "SBX-1", error_code="refused",
                error_message=f"Card {PAN_SPACED} 12/30 refused, key {secret}",
            )
        if failure == "bug":
            raise RuntimeError(f"client {secret} broke on card {PAN}")
        return super().purchase(request, log)


@pytest.fixture
def careless_sandbox(settings):
    def configure(failure=None):
        settings.ONECLICK = {
            **settings.ONECLICK,
            "PROVIDERS": {
                "sandbox": {
                    "BACKEND": "tests.test_security.CarelessSandbox",
                    "API_SECRET": SECRET,
                    "ASYNC_SECONDS": 0,
                    "FAIL_WITH": failure,
                }
            },
        }

    return configure


def database_dump():
    rows = [*PaymentMethod.objects.all(), *OneClickOrder.objects.all(), *ProviderExchange.objects.all()]
    return serializers.serialize("json", rows)


def assert_no_card_or_secret(*texts):
    for text in texts:
        for forbidden in (PAN, PAN_SPACED, SECRET):
            assert forbidden not in text


@pytest.mark.django_db
@pytest.mark.parametrize(("failure", "status"), [
    (None, "completed"),
    ("exception", "failed"),
    ("result", "failed"),
    ("bug", "unknown"),
])
def test_no_card_number_or_secret_in_database_logs_or_answers(
    api, customer, careless_sandbox, caplog, failure, status
):
    careless_sandbox(failure)
    caplog.set_level(logging.DEBUG)
    method = api.post(
        METHODS,
        {"provider": "sandbox", "data": {"reference": f"approved:{PAN}", "label": f"Visa {PAN_SPACED} 12/30"}},
        format="json",
    )
    assert method.status_code == 201
    order = api.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert order.status_code == 201
    assert order.json()["status"] == status
    shown = api.get(f"{ORDERS}{order.json()['id']}/").content.decode()

    dump = database_dump()
    assert_no_card_or_secret(dump, caplog.text, method.content.decode(), order.content.decode(), shown)
    # Not vacuous: the exchanges were recorded, with the secret and the card masked.
    authenticate = ProviderExchange.objects.get(operation="authenticate")
    assert authenticate.request == {"client": "shop-1", "credential": "[redacted]"}
    assert authenticate.response == {
        "echo": "Bearer [redacted]", "account": "[card •••• 1111]", "last_card": "[card •••• 1111] 12/30",
    }
    assert PaymentMethod.objects.get().label == "Visa [card •••• 1111] 12/30"
    assert "sandbox.authenticate -> ok" in caplog.text


@pytest.mark.django_db
def test_error_messages_keep_their_meaning_once_redacted(api, customer, careless_sandbox):
    careless_sandbox("exception")
    add_method(customer, "approved")
    data = api.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k").json()
    assert (data["status"], data["error_code"]) == ("failed", "declined")
    purchase = ProviderExchange.objects.get(operation="authenticate").order
    assert purchase.error_message == "Card [card •••• 1111] refused for key [redacted]"
    assert data["customer_message"] == "The payment was declined. Please use another payment method."


# --- the customer's IP address --------------------------------------------------------------


def request_from(remote_addr, forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **extra)


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "expected"), [
    # No proxy: the header is the client's own words and is ignored.
    (0, "203.0.113.7", "1.1.1.1", "203.0.113.7"),
    (0, "2001:db8::1", None, "2001:db8::1"),
    # One proxy: it appended the address it saw; whatever the client sent is further left.
    (1, "10.0.0.1", "203.0.113.7", "203.0.113.7"),
    (1, "10.0.0.1", "1.1.1.1, 203.0.113.7", "203.0.113.7"),
    (1, "10.0.0.1", " 1.1.1.1 ,  203.0.113.7 ", "203.0.113.7"),
    # Two proxies: the outer one's entry is second from the right.
    (2, "10.0.0.2", "1.1.1.1, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
    (2, "10.0.0.2", "203.0.113.7, 10.0.0.1", "203.0.113.7"),
    # Fewer entries than proxies: not what our proxies send, so trust only the socket.
    (2, "10.0.0.2", "203.0.113.7", "10.0.0.2"),
    (1, "10.0.0.1", "", "10.0.0.1"),
    # Garbage where an address should be gives no address rather than an error.
    (1, "10.0.0.1", "1.1.1.1, not-an-ip", None),
    (1, "10.0.0.1", "1.1.1.1, 203.0.113.7:4711", None),
    # A scoped IPv6 address cannot be stored (PostgreSQL's inet refuses the zone).
    (1, "10.0.0.1", "fe80::1%eth0", None),
    (0, "", None, None),
])
def test_client_ip(settings, proxies, remote, forwarded, expected):
    settings.ONECLICK = {**settings.ONECLICK, "TRUSTED_PROXY_COUNT": proxies}
    assert client_ip(request_from(remote, forwarded)) == expected


@pytest.mark.django_db
def test_spoofed_forwarded_for_is_not_stored(api, customer, settings):
    settings.ONECLICK = {**settings.ONECLICK, "TRUSTED_PROXY_COUNT": 1}
    add_method(customer)
    api.post(
        ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4", REMOTE_ADDR="10.0.0.1",
    )
    assert OneClickOrder.objects.get().customer_ip == "198.51.100.4"


@pytest.mark.django_db
def test_http_basic_is_refused_unless_the_shop_enables_it(customer, settings):
    """DRF's own default would accept HTTP Basic (no CSRF check) on an endpoint that spends
    money; the app uses session authentication unless the shop names its own classes."""
    import base64


    add_method(customer, "approved")
    basic = "Basic " + base64.b64encode(b"alice:pw").decode()
    client = APIClient()
    body = {"product": "book"}
    refused = client.post(ORDERS, body, format="json", HTTP_AUTHORIZATION=basic, HTTP_IDEMPOTENCY_KEY="b1")
    assert refused.status_code == 403
    assert not OneClickOrder.objects.exists()

    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"]
    }
    accepted = client.post(ORDERS, body, format="json", HTTP_AUTHORIZATION=basic, HTTP_IDEMPOTENCY_KEY="b2")
    assert accepted.status_code == 201, accepted.content
