"""The 2Checkout provider end to end: REST API -> services -> zeep -> the fake SOAP server."""

import ast
import hashlib
import hmac
import importlib.util
import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import zeep
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.utils import timezone
from zeep.xsd import Nil

import django_oneclick.testing.twocheckout as fake_module
from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.providers import registry
from django_oneclick.providers.twocheckout import login_hash
from django_oneclick.testing.twocheckout import DEMO_MERCHANT, DEMO_SECRET, SoapFault, TwoCheckoutFake
from tests.conftest import add_method

pytestmark = pytest.mark.django_db

EMAIL = "alice@example.com"
PACKAGE = "django_oneclick.providers.twocheckout"
BACKEND = f"{PACKAGE}.TwoCheckoutProvider"


def operation(name):
    """A ``fail_next(when=...)`` predicate for one SOAP operation."""
    return lambda request: f"{name}>".encode() in request.body and b"Envelope" in request.body


@pytest.fixture
def fake():
    with TwoCheckoutFake() as server:
        server.hang_seconds = 2.0
        yield server


def point_at(settings, server, **options):
    provider = {"BACKEND": BACKEND, **server.provider_options(), "READ_TIMEOUT": 1, **options}
    settings.ONECLICK = {
        **settings.ONECLICK,
        "STATUS_REFRESH_INTERVAL": timedelta(0),
        "PROVIDERS": {**settings.ONECLICK["PROVIDERS"], "twocheckout": provider},
    }


@pytest.fixture
def configure(settings, fake):
    """Point the ``twocheckout`` provider at the fake; keyword arguments override options."""

    def apply(**options):
        point_at(settings, fake, **options)

    apply()
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
    return {name: value for name, value in fields.items() if value not in (None, [])}


def operations_sent(fake):
    return [name for name, _ in fake.calls]


def backdate(order_id, seconds):
    """As if the order had been written ``seconds`` ago."""
    OneClickOrder.objects.filter(public_id=order_id).update(created_at=timezone.now() - timedelta(seconds=seconds))


#: Longer than NOT_FOUND_AFTER (15 minutes) and the tests' purchase timeout (11 × (5 + 1) s).
SETTLED = 16 * 60


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


@pytest.mark.parametrize("status", ["PENDING", "REFUND", "REVERSED", "CANCELED"])
def test_is_valid_order_reference_refuses_a_reference_in_another_status(api, fake, customer, configure, status):
    ref_no = fake.add_previous_order(EMAIL, status=status)
    add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL})

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "reference_invalid")
    assert operations_sent(fake) == ["login", "isValidOrderReference"]


def test_mismatched_email_is_refused_without_placing(api, fake, customer, configure):
    ref_no = fake.add_previous_order("someone.else@example.com")
    add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL})

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "email_mismatch")
    assert fake.calls_to("placeOrder") == []


def test_the_reference_orders_own_email_is_sent_as_2checkout_spells_it(api, fake, customer, configure):
    ref_no = fake.add_previous_order("Alice@Example.COM")
    add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL})

    body = buy(api).json()

    assert body["status"] == "completed"
    [sent] = fake.calls_to("placeOrder")
    assert given(sent["Order"]["BillingDetails"]) == {"Email": "Alice@Example.COM"}


def test_quantity_beyond_99999_is_refused_before_anything_is_written_or_sent(api, fake, reference, settings):
    settings.ONECLICK = {**settings.ONECLICK, "MAX_QUANTITY": 100000}

    response = buy(api, quantity=100000)

    assert response.status_code == 400
    assert "1 to 99999" in str(response.json())
    assert not OneClickOrder.objects.exists()
    assert fake.calls == []


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
    assert "AUTHENTICATION_ERROR" in OneClickOrder.objects.get().error_message
    assert "AUTHENTICATION_ERROR" not in body["customer_message"]
    assert operations_sent(fake) == ["login"]


# --- SOAP faults on placeOrder ----------------------------------------------------------------


def test_unknown_product_code_fault(api, fake, reference):
    fake.catalogue = {"lamp"}

    body = buy(api, product="book").json()

    assert (body["status"], body["error_code"]) == ("failed", "product_code_invalid")
    assert "Requested product [book] was not found." in OneClickOrder.objects.get().error_message
    assert fake.placed_orders() == []


class ChangesBefore(TwoCheckoutFake):
    """Something changes at 2Checkout just before the first call of ``before``."""

    change = None
    before = "placeOrder"

    def handle(self, request):
        if self.change and operation(self.before)(request):
            change, self.change = self.change, None
            change(self)
        return super().handle(request)


@pytest.fixture
def racing(settings, customer):
    with ChangesBefore() as server:
        server.reference = server.add_previous_order(EMAIL)
        point_at(settings, server)
        add_method(customer, server.reference, provider="twocheckout", data={"email": EMAIL})
        yield server


def test_reference_whose_status_changes_before_get_order_is_refused(api, racing):
    racing.before, racing.change = "getOrder", lambda f: f.set_status(f.reference, "REFUND")

    body = buy(api).json()

    assert (body["status"], body["error_code"]) == ("failed", "reference_not_eligible")
    assert "REFUND" in OneClickOrder.objects.get().error_message
    assert operations_sent(racing) == ["login", "isValidOrderReference", "getOrder"]


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda f: f.orders[f.reference]["BillingDetails"].update(Email="new@example.com"), "EMAIL_MISMATCH"),
        (lambda f: f.set_status(f.reference, "REVERSED"), "INVALID_REFERENCE"),
    ],
)
def test_undocumented_place_order_faults_leave_the_order_unknown_until_searched(api, racing, change, fault):
    racing.change = change

    body = buy(api).json()

    # 2Checkout documents no code for these: its refusal is not taken as proof.
    assert (body["status"], body["provider_order_id"]) == ("unknown", "")
    assert fault in OneClickOrder.objects.get().error_message
    backdate(body["id"], SETTLED)
    assert (show(api, body["id"])["status"], OneClickOrder.objects.get().error_code) == ("failed", "not_placed")
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


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AUTHENTICATION_ERROR", "Authentication needed."),
        ("INVALID_SESSION", "Invalid value."),
        ("SOAP-ENV:Server", "Session expired."),
        ("SOAP-ENV:Client", "Please log in again."),
    ],
)
def test_any_session_fault_leads_to_one_login_and_one_retry(api, fake, reference, code, message):
    fake.session_fault = (code, message)
    assert buy(api, key="k1").json()["status"] == "completed"
    fake.expire_sessions()  # long before SESSION_RENEW_AFTER

    body = buy(api, key="k2").json()

    assert body["status"] == "completed"
    assert operations_sent(fake)[4:] == [
        "isValidOrderReference",
        "login",
        "isValidOrderReference",
        "getOrder",
        "placeOrder",
    ]
    assert len(fake.placed_orders()) == 2


def test_session_fault_on_a_status_fetch_is_recovered(api, fake, reference):
    fake.session_fault = ("AUTHENTICATION_ERROR", "Invalid session.")
    fake.new_order_status = ("PENDING", "WAITING")
    body = buy(api).json()
    fake.expire_sessions()
    fake.set_status(body["provider_order_id"], "COMPLETE", "OK")

    assert show(api, body["id"])["status"] == "completed"
    assert operations_sent(fake)[4:] == ["getOrder", "login", "getOrder"]


def test_session_fault_on_place_order_is_never_resent_and_leaves_the_order_unknown(api, racing):
    racing.change = TwoCheckoutFake.expire_sessions

    body = buy(api).json()

    assert (body["status"], body["provider_order_id"]) == ("unknown", "")
    assert show(api, body["id"])["status"] == "unknown"  # searched: not there yet
    backdate(body["id"], SETTLED)
    assert show(api, body["id"])["status"] == "failed"
    assert len(racing.calls_to("placeOrder")) == 1
    assert racing.placed_orders() == []


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


def _interrupted_order(customer, seconds_ago, **fields):
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
        **fields,
    )
    backdate(order.public_id, seconds_ago)
    return order


def test_order_never_placed_is_failed_once_the_search_is_conclusive(api, fake, customer, reference):
    order = _interrupted_order(customer, seconds_ago=SETTLED)

    body = show(api, order.public_id)

    assert (body["status"], body["error_code"]) == ("failed", "not_placed")
    assert operations_sent(fake) == ["login", "searchOrders"]


def test_absence_is_not_believed_before_the_search_settles(api, fake, customer, reference):
    order = _interrupted_order(customer, seconds_ago=10 * 60)  # the default settle time: 15 minutes

    body = show(api, order.public_id)

    assert body["status"] == "unknown"
    assert OneClickOrder.objects.get().refresh_attempts == 1


def test_no_verdict_while_the_purchase_itself_may_still_run(api, fake, customer, reference, configure):
    configure(NOT_FOUND_AFTER=0)  # the purchase may run 11 requests × (5 + 1) s = 66 s
    order = _interrupted_order(customer, seconds_ago=30, status="unknown")  # its answer was lost

    assert show(api, order.public_id)["status"] == "unknown"
    backdate(order.public_id, 70)
    assert show(api, order.public_id)["status"] == "failed"


def test_the_search_matches_our_order_id_alone(api, fake, customer, reference, monkeypatch):
    search = fake._op_searchOrders
    # Even if 2Checkout ignored the ExternalRefNo filter, another order of the same product,
    # customer and time is not ours.
    monkeypatch.setattr(
        fake,
        "_op_searchOrders",
        lambda sessionID, orderSearchOptions: search(sessionID, {**orderSearchOptions, "ExternalRefNo": None}),
    )
    assert buy(api).json()["status"] == "completed"
    order = _interrupted_order(customer, seconds_ago=SETTLED)

    body = show(api, order.public_id)

    assert (body["status"], body["error_code"], body["provider_order_id"]) == ("failed", "not_placed", "")
    [search_answer] = [e.response for e in order.exchanges.filter(operation="searchOrders")]
    assert any(o["ExternalReference"] for o in search_answer["Items"])  # another order was there to be taken


# --- the purchase timeout -----------------------------------------------------------------------


class RefusesEachSessionOnce(TwoCheckoutFake):
    """Refuses the session once on each call that cannot charge: the most requests a purchase makes."""

    def __init__(self):
        super().__init__()
        self.refused = set()

    def _check_session(self, session_id):
        name = self.calls[-1][0]
        if name != "placeOrder" and name not in self.refused:
            self.refused.add(name)
            raise SoapFault(*self.session_fault)
        super()._check_session(session_id)


def test_purchase_timeout_counts_the_most_requests_a_purchase_makes(api, settings, customer):
    with RefusesEachSessionOnce() as server:
        ref_no = server.add_previous_order(EMAIL)
        add_method(customer, ref_no, provider="twocheckout", data={"email": EMAIL})
        point_at(settings, server, SESSION_RENEW_AFTER=0, CONNECT_TIMEOUT=2)  # a new login before every call

        assert buy(api).json()["status"] == "completed"

        assert len(server.requests) == 11  # the WSDL, 6 logins, 2 refused calls, 3 answered
        assert registry.get_provider("twocheckout").purchase_timeout == 11 * timedelta(seconds=2 + 1)


def _check_errors(settings, **options):
    """The system checks' django_oneclick messages, by id, for a 2Checkout provider with ``options``."""
    provider = {"BACKEND": BACKEND, "MERCHANT_CODE": "M", "SECRET_KEY": "s", **options}
    settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": {"twocheckout": provider}}
    return {m.id: m.msg for m in run_checks() if m.id and m.id.startswith("django_oneclick.")}


def _verdict_wait_errors(settings, **options):
    return set(_check_errors(settings, **options)) & {"django_oneclick.E007", "django_oneclick.E008"}


def test_default_timeouts_let_a_purchase_end_before_any_verdict(settings):
    assert _verdict_wait_errors(settings) == set()  # 11 × 25 s, under STALE_PENDING_AFTER's 5 minutes


def test_timeouts_too_long_for_the_verdict_waits_fail_the_checks(settings):
    # 11 × (5 + 30) s exceeds STALE_PENDING_AFTER (5 minutes); 11 × 95 s exceeds NOT_FOUND_AFTER too.
    assert _verdict_wait_errors(settings, READ_TIMEOUT=30) == {"django_oneclick.E007"}
    assert _verdict_wait_errors(settings, READ_TIMEOUT=90) == {"django_oneclick.E007", "django_oneclick.E008"}


@pytest.mark.parametrize(("renew_after", "refused"), [(540, False), (599.9, False), (600, True), (3600, True)])
def test_a_session_kept_past_its_ten_minutes_fails_the_checks(settings, renew_after, refused):
    errors = _check_errors(settings, SESSION_RENEW_AFTER=renew_after)

    assert ("django_oneclick.E009" in errors) is refused
    if refused:
        assert "'SESSION_RENEW_AFTER'" in errors["django_oneclick.E009"]
        assert "10 minutes" in errors["django_oneclick.E009"]


# --- zeep, an optional dependency ----------------------------------------------------------------


def test_without_zeep_a_configured_provider_is_a_start_up_error_naming_the_extra(settings, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "zeep" else find_spec(name, *args)
    )
    for module in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        monkeypatch.delitem(sys.modules, module)  # imported afresh, as in a process without zeep

    errors = _check_errors(settings)

    assert "2Checkout" in errors["django_oneclick.E004"]
    assert 'pip install "django-oneclick[twocheckout]"' in errors["django_oneclick.E004"]


# --- the client, once per provider instance -------------------------------------------------------


def test_wsdl_is_parsed_once_per_provider_instance(api, fake, reference):
    for key in ("k1", "k2", "k3"):
        assert buy(api, key=key).json()["status"] == "completed"
    assert fake.wsdl_downloads == 1

    registry.reset()  # a new provider instance, as after a settings change: a client of its own
    assert buy(api, key="k4").json()["status"] == "completed"

    assert fake.wsdl_downloads == 2


def test_the_registrys_reset_closes_the_zeep_session(api, fake, reference):
    assert buy(api).json()["status"] == "completed"
    provider = registry.get_provider("twocheckout")
    pools = provider.client.transport.session.get_adapter(fake.base_url).poolmanager.pools
    assert len(pools) == 1  # the kept-alive connection to the fake

    registry.reset()

    assert len(pools) == 0
    provider.close()  # closing again is harmless


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


# --- the fake, to a client written from the document alone ----------------------------------------


@pytest.fixture
def soap(fake):
    """zeep on the fake's WSDL, logged in as the document says: (service, session id)."""
    service = zeep.Client(fake.provider_options()["WSDL_URL"]).service
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return service, service.login(DEMO_MERCHANT, date, login_hash(DEMO_MERCHANT, DEMO_SECRET, date), "sha256")


def documents_order(ref_no, email, **changes):
    """The order of the document's sample, field for field (its NULLs as xsi:nil)."""
    item = {"Code": "my_subscription_1", "Quantity": 1, "PriceOptions": Nil, "SKU": Nil, "Price": Nil}
    return {
        "RefNo": Nil,
        "Currency": "usd",
        "Country": "US",
        "Language": "en",
        "CustomerIP": "91.220.121.21",
        "ExternalReference": Nil,
        "Source": Nil,
        "Affiliate": {"AffiliateCode": "Partner123", "AffiliateSource": "MobilePlatform"},
        "CustomerReference": Nil,
        "Items": [{**item, "CrossSell": Nil, "Trial": False, **changes.pop("item", {})}],
        "BillingDetails": {"Email": email},
        "DeliveryDetails": Nil,
        "PaymentDetails": {
            "Type": "PREVIOUS_ORDER",
            "Currency": "usd",
            "PaymentMethod": {"RecurringEnabled": True, "RefNo": ref_no},
            "CustomerIP": "10.10.10.10",
        },
        "Promotions": Nil,
        "AdditionalFields": Nil,
        "LocalTime": Nil,
        "GiftDetails": Nil,
        **changes,
    }


FILLED_IN = {
    "item": {
        "PriceOptions": [{"Code": "COLOR", "Options": ["red"]}],
        "SKU": "SKU-1",
        "Price": {"Amount": Decimal("9.99"), "Type": "CUSTOM"},
        "CrossSell": {"ParentCode": "main", "CampaignCode": "summer"},
    },
    "DeliveryDetails": {"Email": EMAIL, "FirstName": "Ada"},
    "Promotions": ["SUMMER10"],
    "AdditionalFields": [{"Code": "note", "Value": "gift wrap"}],
    "LocalTime": "2024-05-13 12:12:12",
    "GiftDetails": {"FirstName": "Bob", "Email": "bob@example.com", "GiftNote": "Enjoy"},
}


@pytest.mark.parametrize("changes", [{}, FILLED_IN], ids=["as-in-the-document", "filled-in"])
def test_an_order_written_like_the_documents_sample_is_placed(fake, soap, changes):
    service, session = soap
    ref_no = fake.add_previous_order(EMAIL)
    assert service.isValidOrderReference(session, ref_no) is True
    existing = service.getOrder(session, ref_no)

    placed = service.placeOrder(session, documents_order(ref_no, existing.BillingDetails.Email, **changes))

    assert (placed.Status, placed.ApproveStatus) == ("COMPLETE", "OK")
    [received] = fake.calls_to("placeOrder")
    order = received["Order"]
    assert order["Affiliate"] == {"AffiliateCode": "Partner123", "AffiliateSource": "MobilePlatform"}
    assert order["Items"][0]["Trial"] is False
    if changes:
        assert order["Items"][0]["Price"] == {"Amount": Decimal("9.99"), "Type": "CUSTOM"}
        assert (order["Promotions"], order["GiftDetails"]["GiftNote"]) == (["SUMMER10"], "Enjoy")
    else:
        assert (order["RefNo"], order["DeliveryDetails"], order["Promotions"]) == (None, None, [])


def test_the_fake_refuses_nil_where_its_wsdl_does_not_allow_it(fake, soap):
    service, session = soap
    ref_no = fake.add_previous_order(EMAIL)

    with pytest.raises(zeep.exceptions.Fault, match="Currency cannot be nil"):
        service.placeOrder(session, documents_order(ref_no, EMAIL, Currency=Nil))


@pytest.mark.parametrize(
    ("status", "valid"),
    [
        ("AUTHRECEIVED", True),
        ("COMPLETE", True),
        ("PENDING", False),
        ("REFUND", False),
        ("REVERSED", False),
        ("CANCELED", False),
    ],
)
def test_the_fakes_is_valid_order_reference_follows_the_status(fake, soap, status, valid):
    service, session = soap

    assert service.isValidOrderReference(session, fake.add_previous_order(EMAIL, status=status)) is valid


@pytest.mark.parametrize("email", [EMAIL.upper(), f" {EMAIL}", "bob@example.com"])
def test_the_fake_refuses_an_email_not_identical_to_the_references(fake, soap, email):
    service, session = soap
    ref_no = fake.add_previous_order(EMAIL)

    with pytest.raises(zeep.exceptions.Fault) as refused:
        service.placeOrder(session, documents_order(ref_no, email))

    assert refused.value.code == "EMAIL_MISMATCH"
    assert len(fake.orders) == 2  # the demo reference and this one: nothing placed


def test_the_fake_refuses_a_quantity_outside_1_to_99999(fake, soap):
    service, session = soap
    ref_no = fake.add_previous_order(EMAIL)

    with pytest.raises(zeep.exceptions.Fault) as refused:
        service.placeOrder(session, documents_order(ref_no, EMAIL, item={"Quantity": 100000}))

    assert refused.value.code == "ORDER_ITEMS_QUANTITY_INVALID"


def test_the_fake_shares_no_code_with_the_provider():
    tree = ast.parse(Path(fake_module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "django_oneclick.providers.twocheckout" not in imported
