"""Firmly end to end through the REST API against the fake Firmly on 127.0.0.1.

The saved card is what the browser form sends (a JWE made here with ``encrypt_card``, which
builds the same compact JWE); the fake really decrypts it.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core import checks, serializers
from django.db import connection

from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from django_oneclick.orders import refresh_order
from django_oneclick.providers.base import Buyer
from django_oneclick.providers.firmly.jwe import encrypt_card, jwe_header
from django_oneclick.testing.firmly import TEST_CARD, CardRefused, FirmlyFake

pytestmark = pytest.mark.django_db

METHODS = "/oneclick/api/payment-methods/"
ORDERS = "/oneclick/api/orders/"
NEXT_YEAR = str(date.today().year + 1)


@pytest.fixture
def fake():
    with FirmlyFake(stream_delay=0.01) as server:
        yield server


@pytest.fixture
def use_firmly(settings, fake):
    """Point the ``firmly`` provider at the fake; call again to change its options."""

    def configure(**options):
        providers = {**settings.ONECLICK["PROVIDERS"]}
        providers["firmly"] = {"BACKEND": fake.backend, **fake.provider_options(), **options}
        settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": providers}

    configure()
    return configure


def card_details(fake, **card):
    """What the browser card form posts for ``card`` (the test Visa by default)."""
    card = {**TEST_CARD, **card}
    return {
        "jwe": encrypt_card(card, fake.public_jwk()),
        "kid": fake.current_kid,
        "brand": "visa",
        "last4": card["number"][-4:],
        "exp_month": int(card["month"]),
        "exp_year": int(card["year"]),
    }


def save_card(api, fake, **card):
    response = api.post(METHODS, {"provider": "firmly", "data": card_details(fake, **card)}, format="json")
    assert response.status_code == 201, response.content
    return PaymentMethod.objects.get(pk=response.json()["id"])


def buy(api, product="book", quantity=1, key=None):
    return api.post(
        ORDERS,
        {"product": product, "quantity": quantity},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


def place_order_requests(fake):
    return [r for r in fake.requests if r.path.endswith("/place-order")]


# --- the card as a JWE ---------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"alg": "RSA-OAEP-256"}, {"x-firmly-kid": "ignored"}])
def test_encrypt_card_makes_a_compact_jwe_that_firmly_decrypts(fake, extra):
    token = encrypt_card(TEST_CARD, {**fake.public_jwk(), **extra})

    assert token.count(".") == 4
    assert jwe_header(token) == {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": fake.current_kid}
    assert fake.decrypt_card(token) == TEST_CARD
    assert TEST_CARD["number"] not in token


def test_the_fake_refuses_a_retired_key_and_a_malformed_or_expired_card(fake):
    old_key = fake.public_jwk()
    fake.rotate_key()
    with pytest.raises(CardRefused, match="retired"):
        fake.decrypt_card(encrypt_card(TEST_CARD, old_key))
    with pytest.raises(CardRefused, match="expired"):
        fake.decrypt_card(encrypt_card({**TEST_CARD, "year": "2025", "month": "08"}, fake.public_jwk()))
    with pytest.raises(CardRefused, match="number"):
        fake.decrypt_card(encrypt_card({**TEST_CARD, "number": "4242424242424241"}, fake.public_jwk()))
    with pytest.raises(CardRefused, match="algorithm"):
        fake.decrypt_card(_token_with_header(fake, {"alg": "RSA-OAEP", "enc": "A256GCM"}))


def _token_with_header(fake, header):
    from jwcrypto import jwe, jwk

    key = jwk.JWK(**{k: v for k, v in fake.public_jwk().items() if k in ("kty", "n", "e")})
    token = jwe.JWE(json.dumps(TEST_CARD).encode(), protected=json.dumps({**header, "kid": fake.current_kid}))
    token.add_recipient(key)
    return token.serialize(compact=True)


# --- saving a card ---------------------------------------------------------------------------


def test_a_browser_encrypted_card_is_saved_with_its_kid_and_never_in_clear(api, customer, fake, use_firmly):
    details = card_details(fake, month="02", year="2031")
    response = api.post(METHODS, {"provider": "firmly", "data": details}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["label"] == "Visa •••• 4242"
    assert body["expires"] == "2031-02-28"
    assert "reference" not in body
    method = PaymentMethod.objects.get(owner=customer)
    assert method.reference == details["jwe"]
    assert method.data == {"kid": fake.current_kid}
    assert fake.decrypt_card(method.reference)["number"] == TEST_CARD["number"]
    assert TEST_CARD["number"] not in json.dumps(
        serializers.serialize("python", PaymentMethod.objects.all()), default=str
    )


def _tampered_header(details):
    _, *rest = details["jwe"].split(".")
    forged = json.dumps({"alg": "RSA1_5", "enc": "A256GCM", "kid": details["kid"]}).encode()
    import base64

    return ".".join([base64.urlsafe_b64encode(forged).decode().rstrip("="), *rest])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: {**d, "number": "4242424242424242"}, "never its number"),
        (lambda d: {**d, "jwe": d["jwe"].rsplit(".", 1)[0]}, "five"),
        (lambda d: {**d, "jwe": _tampered_header(d)}, "RSA-OAEP-256"),
        (lambda d: {**d, "kid": "another"}, "kid"),
        (lambda d: {**d, "brand": "diners-club-de-luxe"}, "brand"),
        (lambda d: {**d, "last4": "42a2"}, "last four"),
        (lambda d: {**d, "exp_month": 13}, "expiry"),
        (lambda d: {**d, "exp_month": 1, "exp_year": date.today().year - 1}, "expired"),
        (lambda d: {k: v for k, v in d.items() if k != "jwe"}, "jwe"),
    ],
)
def test_a_malformed_card_registration_is_a_400_and_nothing_is_saved(api, fake, use_firmly, change, message):
    response = api.post(METHODS, {"provider": "firmly", "data": change(card_details(fake))}, format="json")

    assert response.status_code == 400
    assert message in json.dumps(response.json())
    assert not PaymentMethod.objects.exists()


# --- buying ----------------------------------------------------------------------------------


def test_plain_json_order_completes_with_the_saved_jwe(api, customer, fake, use_firmly):
    use_firmly(STREAM="false")  # as read from ONECLICK_FIRMLY_STREAM
    method = save_card(api, fake)

    response = buy(api, quantity=2)

    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "completed"
    assert OneClickOrder.objects.get().progress == "order_completed"
    assert order["provider_order_id"] == fake.orders[0]["platform_order_number"]
    (sent,) = place_order_requests(fake)
    assert sent.path == "/api/v1/payment/domains/staging.luma.gift/place-order"
    assert "text/event-stream" not in sent.header("accept")
    assert sent.header("x-firmly-authorization") in fake.sessions
    body = sent.json()
    assert body["items"] == [{"variant_id": "book", "quantity": 2}]
    assert body["encrypted_card"] == method.reference
    assert body["shipping_info"] == body["billing_info"]
    assert body["shipping_info"]["state_or_province"] == "NY"
    assert body["shipping_info"]["email"] == customer.email
    assert fake.orders[0]["payment_summary"]["last_four"] == "4242"


def test_streamed_order_records_each_step_on_the_order(api, fake, use_firmly):
    save_card(api, fake)

    response = buy(api)

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "completed"
    assert OneClickOrder.objects.get().progress == "order_completed"
    (sent,) = place_order_requests(fake)
    assert sent.header("accept") == "text/event-stream"
    order = OneClickOrder.objects.get()
    (exchange,) = order.exchanges.filter(operation="place_order")
    assert [e["event"] for e in exchange.response["events"]] == [
        "order_processing",
        "payment_processing",
        "order_completed",
    ]
    assert exchange.request["json"]["encrypted_card"] == "[redacted]"
    assert exchange.request["headers"]["x-firmly-authorization"] == "[redacted]"


@pytest.mark.django_db(transaction=True)
def test_each_streamed_step_is_on_the_order_while_firmly_works(customer, fake, use_firmly):
    """Read the order from another connection just before each event: the previous step
    must already be committed, so a customer watching the order sees it happen."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(customer)
    fake.stream_delay = 0.3
    seen = []

    def watch(event):
        seen.append((event, list(OneClickOrder.objects.values_list("progress", flat=True))))
        connection.close()

    fake.before_event = watch
    save_card(api, fake)

    assert buy(api).json()["status"] == "completed"
    assert seen == [
        ("order_processing", [""]),
        ("payment_processing", ["order_processing"]),
        ("order_completed", ["payment_processing"]),
    ]


def _set_up(fake, case):
    if case == "InvalidAddress":
        fake.undeliverable_postal_codes.add("10001")
    elif case == "InsufficientStock":
        fake.stock = {"book": 0}
    elif case == "InvalidVariant":
        fake.stock = {"mug": 5}


ERROR_CASES = [
    # (Firmly error, card, our code, customer message)
    ("InvalidAddress", {}, "invalid_address", "shipping address"),
    ("InsufficientStock", {}, "insufficient_stock", "out of stock"),
    ("InvalidVariant", {}, "invalid_variant", "cannot be bought"),
    ("PaymentFailed", {"number": "4000000000000002"}, "payment_failed", "declined"),
    ("InvalidCard", {"verification_value": "12x"}, "invalid_card", "enter it again"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize(("case", "card", "code", "customer_message"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_every_documented_error_fails_the_order_with_nothing_charged(
    api, fake, use_firmly, stream, case, card, code, customer_message
):
    from django_oneclick.providers.firmly.provider import CUSTOMER_MESSAGES

    use_firmly(STREAM=stream)
    method = save_card(api, fake, **card)
    _set_up(fake, case)

    response = buy(api)

    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "failed"
    assert order["error_code"] == code
    assert case in OneClickOrder.objects.get().error_message
    assert customer_message in order["customer_message"]
    assert order["customer_message"] == CUSTOMER_MESSAGES[code]
    assert fake.orders == []
    assert len(place_order_requests(fake)) == 1
    method.refresh_from_db()
    assert method.needs_reentry is False  # the key did not rotate: the card itself was refused


def test_a_rotated_key_is_noticed_before_sending_and_the_card_must_be_entered_again(api, fake, use_firmly):
    method = save_card(api, fake)
    fake.rotate_key()

    response = buy(api)

    assert response.status_code == 400
    assert "entered again" in json.dumps(response.json())
    assert place_order_requests(fake) == []
    assert not OneClickOrder.objects.exists()
    method.refresh_from_db()
    assert method.needs_reentry is True
    assert api.get(METHODS).json()[0]["needs_reentry"] is True


def test_a_key_rotated_while_cached_gives_invalid_card_then_the_card_needs_reentry(api, fake, use_firmly):
    method = save_card(api, fake)
    assert buy(api).json()["status"] == "completed"  # the key is now cached
    fake.rotate_key()

    second = buy(api).json()

    assert second["status"] == "failed"
    assert second["error_code"] == "invalid_card"
    operations = list(
        ProviderExchange.objects.filter(order__public_id=second["id"]).values_list("operation", flat=True)
    )
    assert operations == ["place_order", "get_public_key"]  # refetched after InvalidCard
    method.refresh_from_db()
    assert method.needs_reentry is True
    assert buy(api).status_code == 400
    assert len(place_order_requests(fake)) == 2

    fresh = save_card(api, fake)  # entered again with the new key
    assert fresh.data == {"kid": fake.current_kid}
    assert api.post(f"{METHODS}{fresh.pk}/default/").status_code == 200
    assert buy(api).json()["status"] == "completed"


# --- the access token ------------------------------------------------------------------------


def _sessions(fake):
    return [r for r in fake.requests if r.path == "/api/v1/browser-session"]


def test_the_access_token_is_cached_until_it_expires_then_renewed(api, fake, use_firmly):
    fake.token_lifetime = 2  # a token is renewed after a second
    save_card(api, fake)
    assert buy(api).json()["status"] == "completed"
    assert buy(api).json()["status"] == "completed"
    assert len(_sessions(fake)) == 1
    assert _sessions(fake)[0].header("x-firmly-app-id") == fake.app_id

    time.sleep(1.1)
    assert buy(api).json()["status"] == "completed"

    renewals = [r.json() for r in _sessions(fake)[1:]]
    assert len(renewals) == 1
    assert renewals[0]["access_token"] in fake.sessions  # renewed with the expired token
    devices = {session["device_id"] for session in fake.sessions.values()}
    assert len(devices) == 1


def test_a_revoked_token_is_replaced_and_the_order_sent_once_more(api, fake, use_firmly):
    save_card(api, fake)
    assert buy(api).json()["status"] == "completed"
    fake.revoke_tokens()

    order = buy(api).json()

    assert order["status"] == "completed"
    assert len(fake.orders) == 2
    assert len(place_order_requests(fake)) == 3  # the refused one, then the accepted one


def test_an_unknown_app_id_fails_without_sending_the_order(api, fake, use_firmly, caplog):
    save_card(api, fake)
    use_firmly(APP_ID="not-the-right-app-id")

    order = buy(api).json()

    assert order["status"] == "failed"
    assert order["error_code"] == "authentication_failed"
    assert place_order_requests(fake) == []
    rows = json.dumps(list(ProviderExchange.objects.values("request", "response", "error")))
    assert "not-the-right-app-id" not in rows + caplog.text


# --- transport faults: money is never lost or doubled -------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("fault", ["timeout", "drop"])
def test_a_lost_answer_leaves_the_order_unknown_and_it_is_never_sent_again(
    api, fake, use_firmly, stream, fault, caplog
):
    use_firmly(STREAM=stream, READ_TIMEOUT=0.5)
    fake.hang_seconds = 1.5
    save_card(api, fake)
    assert buy(api).json()["status"] == "completed"  # key and token are cached now
    fake.fail_next(fault)

    order = buy(api).json()

    assert order["status"] == "unknown"
    assert len(fake.orders) == 2  # Firmly placed it
    refresh_order(OneClickOrder.objects.get(public_id=order["id"]))
    stored = OneClickOrder.objects.get(public_id=order["id"])
    assert stored.status == "unknown"
    assert stored.refresh_attempts == 1
    assert "settle it by hand" in caplog.text
    assert len(place_order_requests(fake)) == 2


def test_a_stream_cut_after_payment_leaves_the_order_unknown_with_its_last_step(api, fake, use_firmly):
    save_card(api, fake)
    fake.cut_stream_after = "payment_processing"

    order = buy(api).json()

    assert order["status"] == "unknown"
    assert order["progress"] == "Authorising the payment"
    assert OneClickOrder.objects.get().progress == "payment_processing"
    assert len(fake.orders) == 1


@pytest.mark.parametrize("code", [400, 500, None])
def test_an_undocumented_error_after_the_payment_started_leaves_the_order_unknown(api, fake, use_firmly, code):
    save_card(api, fake)
    fake.error_after_payment = {"error": "CheckoutFailed", "code": code, "message": "Something went wrong"}

    order = buy(api).json()

    assert (order["status"], order["error_code"]) == ("unknown", "outcome_unknown")
    assert order["progress"] == "Authorising the payment"
    assert len(fake.orders) == 1  # Firmly charged it


def test_a_stream_past_its_deadline_leaves_the_order_unknown(api, fake, use_firmly):
    use_firmly(STREAM_DEADLINE=0.2)
    save_card(api, fake)
    fake.stream_delay = 0.3

    order = buy(api).json()

    assert order["status"] == "unknown"
    assert "STREAM_DEADLINE" in OneClickOrder.objects.get().error_message
    assert len(place_order_requests(fake)) == 1


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
def test_a_malformed_answer_to_the_order_leaves_it_unknown(api, fake, use_firmly, stream):
    use_firmly(STREAM=stream)
    save_card(api, fake)
    assert buy(api).json()["status"] == "completed"
    fake.fail_next("malformed")

    assert buy(api).json()["status"] == "unknown"


def test_firmly_unreachable_fails_the_order_with_nothing_charged(api, fake, use_firmly):
    save_card(api, fake)
    fake.stop()

    order = buy(api).json()

    assert order["status"] == "failed"
    assert order["error_code"] == "provider_unavailable"


# --- the buyer's address ---------------------------------------------------------------------


def invalid_buyer(user):
    return Buyer("Ada", "Lovelace", "not-an-email", "+1 212 555 1234", "1 Main St", "", "NY", "10001", "USA")


def test_an_invalid_address_is_refused_before_anything_is_written_or_sent(api, fake, use_firmly, settings):
    save_card(api, fake)
    settings.ONECLICK = {**settings.ONECLICK, "BUYER_RESOLVER": "tests.test_provider_firmly.invalid_buyer"}

    response = buy(api)

    assert response.status_code == 400
    message = json.dumps(response.json())
    for problem in ("city", "a valid email", "a two-letter country code"):
        assert problem in message
    assert not OneClickOrder.objects.exists()
    assert place_order_requests(fake) == [] and _sessions(fake) == []


def test_a_customer_without_an_address_is_asked_for_one(fake, use_firmly):
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user("noaddress", "", "pw")
    client = APIClient()
    client.force_login(user)
    save_card(client, fake)

    response = buy(client)

    assert response.status_code == 400
    assert "shipping address" in json.dumps(response.json())
    assert place_order_requests(fake) == []


# --- nothing secret is kept ------------------------------------------------------------------


def test_no_card_number_cvv_token_or_app_id_in_the_database_logs_or_admin(
    api, customer, fake, use_firmly, caplog, admin_client
):
    caplog.set_level("DEBUG")
    cvv = "9731"
    save_card(api, fake, verification_value=cvv)
    use_firmly(STREAM=True)
    assert buy(api).json()["status"] == "completed"
    use_firmly(STREAM=False)
    assert buy(api).json()["status"] == "completed"
    fake.stock = {}
    assert buy(api).json()["status"] == "failed"
    orders = list(OneClickOrder.objects.all())

    dump = serializers.serialize("json", [*orders, *ProviderExchange.objects.all(), *PaymentMethod.objects.all()])
    pages = [
        admin_client.get(f"/admin/django_oneclick/{name}/").content.decode()
        for name in ("oneclickorder", "paymentmethod")
    ]
    pages += [admin_client.get(f"/admin/django_oneclick/oneclickorder/{o.pk}/change/").content.decode() for o in orders]
    pages.append(
        admin_client.get(
            f"/admin/django_oneclick/paymentmethod/{PaymentMethod.objects.get().pk}/change/"
        ).content.decode()
    )
    assert all("Visa" in page or "book" in page.lower() for page in pages)
    assert any("place_order" in page for page in pages)  # the exchanges are shown
    tokens = list(fake.sessions)
    assert tokens
    for text in (dump.replace(PaymentMethod.objects.get().reference, "<jwe>"), caplog.text, *pages):
        for secret in (TEST_CARD["number"], "4242 4242", cvv, fake.app_id, *tokens):
            assert secret not in text
    assert '"verification_value"' not in dump
    assert caplog.text.count("place_order") >= 3


def test_the_reference_kept_is_only_the_jwe(api, fake, use_firmly):
    method = save_card(api, fake)
    assert set(method.data) == {"kid"}
    assert jwe_header(method.reference)["kid"] == fake.current_kid


# --- configuration -------------------------------------------------------------------------------


def test_missing_options_are_reported_by_the_system_checks(settings):
    providers = {**settings.ONECLICK["PROVIDERS"], "firmly": {"BACKEND": FirmlyFake.backend}}
    settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": providers}

    messages = [m.msg for m in checks.run_checks() if m.id == "django_oneclick.E005"]

    assert any("'APP_ID'" in m for m in messages)
    assert any("'DOMAIN'" in m for m in messages)
