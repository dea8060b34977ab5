"""The 2Checkout provider end to end: REST API -> services -> zeep -> the fake SOAP server."""

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.providers import registry
from django_oneclick.providers.twocheckout import login_hash, wsdl_parse_count
from django_oneclick.testing.twocheckout import DEMO_SECRET, TwoCheckoutFake
from tests.conftest import add_method

pytestmark = pytest.mark.django_db

EMAIL = "alice@example.com"
BACKEND = "django_oneclick.providers.twocheckout.TwoCheckoutProvider"


def operation(name):
    """A ``fail_next(when=...)`` predicate for one SOAP operation."""
    return lambda request: f"{name}>".encode() in request.body and b"Envelope" in request.body


@pytest.fixture
def fake():
    with TwoCheckoutFake() as server:
        server.hang_seconds = 2.0
        yield server


@pytest.fixture
def configure(settings, fake):
    """Point the ``twocheckout`` provider at the fake; keyword arguments override options."""

    def apply(**options):
        provider = {"BACKEND": BACKEND, **fake.provider_options(), "READ_TIMEOUT": 1, **options}
        settings.ONECLICK = {
            **settings.ONECLICK,
            "STATUS_REFRESH_INTERVAL": timedelta(0),
            "PROVIDERS": {**settings.ONECLICK["PROVIDERS"], "twocheckout": provider},
        }

    apply(NOT_FOUND_AFTER=0)
    return apply


@pytest.fixture
def reference(fake, customer, configure):
    """A completed previous order of the customer, saved as their default method."""
    ref_no = fake.add_previous_order(EMAIL)
    add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL}, label=f"2Checkout {ref_no}")
    return ref_no


def buy(api, key="k1", product="book", quantity=1):
    return api.post(
        "/oneclick/api/orders/", {"product": product, "quantity": quantity}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def show(api, order_id):
    response = api.get(f"/oneclick/api/orders/{order_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def given(fields):
    """The fields a decoded SOAP object actually carried."""
    return {name: value for name, value in fields.items() if value is not None}


def operations_sent(fake):
    return [name for name, _ in fake.calls]


# --- the login hash ---------------------------------------------------------------------------


def test_login_hash_matches_the_documented_vector():
    assert (
        login_hash("AVANGATE", "SECRET_KEY", "2010-05-13 12:12:12")
        == "29e85dbf92ce0113e7755c31c0438a7db98a4de9f910bf0a527e005f35e43739"
    )


def test_login_hash_counts_lengths_in_bytes():
    # "É" is two bytes in UTF-8, so the code "CAFÉ" counts 5.
    expected = hmac.new(b"key", "5CAFÉ192010-05-13 12:12:12".encode(), hashlib.sha256).hexdigest()
    assert login_hash("CAFÉ", "key", "2010-05-13 12:12:12") == expected


# --- purchases ----------------------------------------------------------------------------------


def test_one_click_purchase_completes(api, fake, reference):
    response = buy(api, quantity=2)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed"
    assert operations_sent(fake) == ["login", "isValidOrderReference", "getOrder", "placeOrder"]
    [sent] = fake.calls_to("placeOrder")
    order = sent["Order"]
    assert order["ExternalReference"] == body["id"]
    assert [given(item) for item in order["Items"]] == [{"Code": "book", "Quantity": 2}]
    assert order["Currency"] == "EUR"
    assert order["Country"] == "US"  # taken from the reference order
    assert order["CustomerIP"] == "127.0.0.1"
    assert given(order["BillingDetails"]) == {"Email": EMAIL}  # the rest comes from the reference
    payment = order["PaymentDetails"]
    assert payment["Type"] == "PREVIOUS_ORDER"
    assert payment["PaymentMethod"] == {"RefNo": reference, "RecurringEnabled": False}
    [placed] = fake.placed_orders()
    assert body["provider_order_id"] == placed["RefNo"] != reference
    logged = list(ProviderExchange.objects.filter(order__public_id=body["id"]).values_list("operation", "outcome"))
    assert logged == [("login", "ok"), ("isValidOrderReference", "ok"), ("getOrder", "ok"), ("placeOrder", "ok")]


def test_options_choose_recurring_country_and_language(api, fake, reference, configure):
    configure(RECURRING_ENABLED=True, COUNTRY="DE", LANGUAGE="de")

    assert buy(api).json()["status"] == "completed"

    order = fake.calls_to("placeOrder")[0]["Order"]
    assert (order["Country"], order["Language"]) == ("DE", "de")
    assert order["PaymentDetails"]["PaymentMethod"]["RecurringEnabled"] is True


def test_pending_order_is_processing_until_get_order_says_complete(api, fake, reference):
    fake.new_order_status = ("PENDING", "WAITING")
    body = buy(api).json()
    assert body["status"] == "processing"

    assert show(api, body["id"])["status"] == "processing"
    fake.set_status(body["provider_order_id"], "COMPLETE", "OK")
    assert show(api, body["id"])["status"] == "completed"

    assert len(fake.calls_to("placeOrder")) == 1
    assert [c["RefNo"] for c in fake.calls_to("getOrder")][-2:] == [body["provider_order_id"]] * 2


@pytest.mark.parametrize(
    ("status", "approval", "expected", "error_code"),
    [
        ("AUTHRECEIVED", "OK", "completed", ""),
        ("AUTHRECEIVED", "WAITING", "processing", ""),
        ("CANCELED", "OK", "failed", "canceled"),
        ("REVERSED", "OK", "failed", "reversed"),
        ("PENDING", "REJECTED", "failed", "rejected"),
    ],
)
def test_status_and_approval_map_onto_order_states(api, fake, reference, status, approval, expected, error_code):
    fake.new_order_status = (status, approval)

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == (expected, error_code)


# --- refusals before anything is placed ----------------------------------------------------------


def test_unknown_reference_is_refused_before_placing(api, fake, customer, configure):
    add_method(customer, "12345", provider="twocheckout", data={"email": EMAIL})

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "reference_invalid")
    assert operations_sent(fake) == ["login", "isValidOrderReference"]


@pytest.mark.parametrize("status", ["PENDING", "REFUND", "CANCELED"])
def test_reference_in_a_non_eligible_status_is_refused(api, fake, customer, configure, status):
    ref_no = fake.add_previous_order(EMAIL, status=status)
    add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL})

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "reference_not_eligible")
    assert status in OneClickOrder.objects.get().error_message
    assert "placeOrder" not in operations_sent(fake)


def test_mismatched_email_is_refused_without_placing(api, fake, customer, configure):
    ref_no = fake.add_previous_order("someone.else@example.com")
    add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL})

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "email_mismatch")
    assert fake.calls_to("placeOrder") == []


def test_method_without_email_is_a_400_and_nothing_is_sent(api, fake, customer, configure):
    add_method(customer, "670174996", provider="twocheckout", data={})

    response = buy(api)

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not OneClickOrder.objects.exists()
    assert fake.calls == []


def test_wrong_secret_key_fails_authentication(api, fake, reference, configure):
    configure(SECRET_KEY="not-the-secret")

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "authentication_failed")
    assert "AUTHENTICATION_ERROR" in body["error_message"]
    assert operations_sent(fake) == ["login"]


# --- SOAP faults on placeOrder ----------------------------------------------------------------


def test_unknown_product_code_fault(api, fake, reference):
    fake.catalogue = {"lamp"}

    body = buy(api, product="book").json()

    assert (body["status"], body["error_code"]) == ("failed", "product_code_invalid")
    assert "Requested product [book] was not found." in OneClickOrder.objects.get().error_message
    assert fake.placed_orders() == []


def test_quantity_out_of_range_fault(api, fake, reference, settings):
    settings.ONECLICK = {**settings.ONECLICK, "MAX_QUANTITY": 100000}

    body = buy(api, quantity=100000).json()

    assert (body["status"], body["error_code"]) == ("failed", "quantity_invalid")
    assert "between 1 and 99999" in OneClickOrder.objects.get().error_message
    assert fake.placed_orders() == []


class ChangesBeforePlaceOrder(TwoCheckoutFake):
    """Something changes at 2Checkout between our checks and the first placeOrder."""

    change = None

    def handle(self, request):
        if self.change and operation("placeOrder")(request):
            change, self.change = self.change, None
            change(self)
        return super().handle(request)


@pytest.fixture
def racing(settings, customer):
    with ChangesBeforePlaceOrder() as server:
        server.reference = server.add_previous_order(EMAIL)
        settings.ONECLICK = {
            **settings.ONECLICK,
            "PROVIDERS": {"twocheckout": {"BACKEND": BACKEND, **server.provider_options()}},
        }
        add_method(customer, server.reference, provider="twocheckout", data={"email": EMAIL})
        yield server


@pytest.mark.parametrize(
    ("change", "error_code", "fault"),
    [
        (
            lambda f: f.orders[f.reference]["BillingDetails"].update(Email="new@example.com"),
            "email_mismatch",
            "EMAIL_MISMATCH",
        ),
        (lambda f: f.set_status(f.reference, "REVERSED"), "reference_invalid", "INVALID_REFERENCE"),
    ],
)
def test_place_order_faults_for_the_reference(api, racing, change, error_code, fault):
    racing.change = change

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", error_code)
    assert fault in body["error_message"]
    assert len(racing.calls_to("placeOrder")) == 1
    assert racing.placed_orders() == []


def test_provider_down_fails_the_order_with_nothing_charged(api, fake, reference):
    fake.maintenance = True

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "provider_unavailable")


def test_unreachable_service_url_is_unavailable(api, fake, reference, configure):
    configure(SERVICE_URL="http://127.0.0.1:9/soap/6.0/")

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "provider_unavailable")
    assert fake.calls == []


def test_service_url_overrides_the_wsdl_location(api, fake, customer, configure):
    with TwoCheckoutFake() as elsewhere:
        ref_no = elsewhere.add_previous_order(EMAIL)
        add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL})
        configure(SERVICE_URL=f"{elsewhere.base_url}/soap/6.0/")

        assert buy(api).json()["status"] == "completed"

        assert fake.calls == [] and fake.wsdl_downloads == 1
        assert len(elsewhere.calls_to("placeOrder")) == 1


# --- the session -------------------------------------------------------------------------------


def test_session_is_reused_across_purchases(api, fake, reference):
    for key in ("k1", "k2", "k3"):
        assert buy(api, key=key).json()["status"] == "completed"

    assert len(fake.calls_to("login")) == 1
    sessions = {arguments["sessionID"] for name, arguments in fake.calls if name != "login"}
    assert sessions == set(fake.issued_sessions) and len(sessions) == 1


def test_expired_session_is_renewed_transparently(api, fake, reference):
    fake.session_lifetime = 0.3
    assert buy(api, key="k1").json()["status"] == "completed"
    time.sleep(0.4)

    body = buy(api, key="k2").json()

    assert body["status"] == "completed"
    assert len(fake.calls_to("login")) == 2
    assert len(fake.calls_to("placeOrder")) == 2
    outcomes = list(ProviderExchange.objects.filter(order__public_id=body["id"]).values_list("operation", "outcome"))
    assert outcomes[:3] == [
        ("isValidOrderReference", "session_expired"),
        ("login", "ok"),
        ("isValidOrderReference", "ok"),
    ]


def test_session_expiring_just_before_place_order_is_renewed_once(api, racing):
    racing.change = TwoCheckoutFake.expire_sessions

    body = buy(api).json()

    assert body["status"] == "completed"
    assert len(racing.calls_to("login")) == 2
    assert len(racing.calls_to("placeOrder")) == 2  # refused for the session, then placed
    assert len(racing.placed_orders()) == 1


def test_session_refused_twice_fails_without_a_third_try(api, racing):
    racing.session_lifetime = 0  # every session it gives is already expired

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "session_expired")
    assert len(racing.calls_to("login")) == 2
    assert len(racing.calls_to("isValidOrderReference")) == 2


def test_session_is_renewed_before_it_expires(api, fake, reference, configure):
    configure(SESSION_RENEW_AFTER=0.3)  # the fake's sessions live 10 minutes

    buy(api, key="k1")
    time.sleep(0.4)
    buy(api, key="k2")

    assert len(fake.calls_to("login")) == 2
    assert not ProviderExchange.objects.filter(outcome="session_expired").exists()


# --- reconciliation ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["timeout", "drop", "malformed", "gateway_error"])
def test_lost_answer_to_place_order_is_reconciled_without_a_second_order(api, fake, reference, fault):
    fake.fail_next(fault, when=operation("placeOrder"))

    response = buy(api)

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["provider_order_id"]) == ("unknown", "")
    [placed] = fake.placed_orders()  # the fake did act on it

    replay = buy(api)  # the same click again: never sent twice
    assert replay.status_code == 200 and replay.json()["id"] == body["id"]

    refreshed = show(api, body["id"])
    assert (refreshed["status"], refreshed["provider_order_id"]) == ("completed", placed["RefNo"])
    assert len(fake.calls_to("placeOrder")) == 1
    [search] = fake.calls_to("searchOrders")
    assert search["orderSearchOptions"]["ExternalRefNo"] == body["id"]


def _interrupted_order(customer, minutes_ago):
    order = OneClickOrder.objects.create(
        owner=customer,
        payment_method=customer.oneclick_payment_methods.get(),
        provider="twocheckout",
        product_reference="book",
        product_title="A good book",
        provider_product_id="book",
        quantity=1,
        unit_price="19.99",
        total="19.99",
        currency="EUR",
        idempotency_key="interrupted",
        request_fingerprint="x",
    )
    OneClickOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return order


def test_order_never_placed_is_failed_once_the_search_is_conclusive(api, fake, customer, reference):
    order = _interrupted_order(customer, minutes_ago=10)

    body = show(api, order.public_id)

    assert (body["status"], body["error_code"]) == ("failed", "not_placed")
    assert operations_sent(fake) == ["login", "searchOrders"]


def test_absence_is_not_believed_before_the_search_settles(api, fake, customer, reference, configure):
    configure()  # the default settle time: 15 minutes
    order = _interrupted_order(customer, minutes_ago=10)

    body = show(api, order.public_id)

    assert body["status"] == "unknown"
    assert OneClickOrder.objects.get().refresh_attempts == 1


# --- the client, once per process --------------------------------------------------------------


def test_wsdl_is_parsed_once_per_process(api, fake, reference):
    wsdl_url = fake.provider_options()["WSDL_URL"]
    assert wsdl_parse_count(wsdl_url) == 0

    assert buy(api, key="k1").json()["status"] == "completed"
    registry.reset()  # a new provider instance, as after a settings change
    assert buy(api, key="k2").json()["status"] == "completed"

    assert wsdl_parse_count(wsdl_url) == 1
    assert fake.wsdl_downloads == 1


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_hash_or_session_id_in_exchanges_logs_or_admin(api, fake, reference, client, caplog):
    caplog.set_level(logging.DEBUG)
    fake.session_lifetime = 0.3
    first = buy(api, key="k1").json()
    time.sleep(0.4)
    buy(api, key="k2")  # an expired session and a second login
    fake.fail_next("timeout", when=operation("placeOrder"))
    lost = buy(api, key="k3").json()
    show(api, lost["id"])  # reconciliation with searchOrders

    secrets = [DEMO_SECRET, *fake.issued_sessions, *(c["hash"] for c in fake.calls_to("login"))]
    assert len(secrets) >= 5
    exchanges = json.dumps(list(ProviderExchange.objects.values()), default=str)
    orders = json.dumps(list(OneClickOrder.objects.values()), default=str)
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    order = OneClickOrder.objects.get(public_id=first["id"])
    page = client.get(f"/admin/django_oneclick/oneclickorder/{order.pk}/change/")
    assert page.status_code == 200
    assert "placeOrder" in page.content.decode()  # the exchanges are on the page
    for secret in secrets:
        assert secret not in exchanges
        assert secret not in orders
        assert secret not in caplog.text
        assert secret not in page.content.decode()
    assert "[redacted]" in exchanges
