"""Hostile and careless input: every field bounded and checked once in the core, a clear 400
with a field-level message, nothing written, and no card data kept where a customer types."""

import json
import logging

import pytest

from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from tests.conftest import add_method

ORDERS = "/oneclick/api/orders/"
METHODS = "/oneclick/api/payment-methods/"
PAN = "4242 4242 4242 4242"

pytestmark = pytest.mark.django_db


def post_raw(api, url, body, **headers):
    """POST a body as raw JSON text, so that what json.dumps would refuse can be sent too."""
    return api.generic("POST", url, body, content_type="application/json", **headers)


def assert_nothing_written():
    assert not OneClickOrder.objects.exists()
    assert not ProviderExchange.objects.exists()


@pytest.mark.parametrize(
    "options",
    [
        '{"note": "a\\u0000b"}',  # NUL: PostgreSQL refuses it in text and JSON
        '{"note": "\\ud800"}',  # a lone surrogate
        '{"a\\u0000": 1}',  # in a key
        '{"n": 1e400}',  # infinity
        json.dumps({"note": f"my card {PAN}"}),
        json.dumps({"promo": "cvv 123"}),
        json.dumps({"deep": [[[[[[["too deep"]]]]]]]}),
        json.dumps({"many": list(range(101))}),
        json.dumps({"long": "x" * 1001}),
        json.dumps({f"k{i}": "x" * 900 for i in range(10)}),  # over 8 KB
    ],
)
def test_bad_options_are_a_field_level_400_and_nothing_is_written(api, customer, options):
    add_method(customer, "approved")

    response = post_raw(api, ORDERS, f'{{"product": "book", "options": {options}}}', HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["options"]
    assert_nothing_written()


@pytest.mark.parametrize("options", ['{"note": NaN}', '{"note": Infinity}'])
def test_json_that_is_not_json_is_a_400(api, customer, options):
    add_method(customer, "approved")

    response = post_raw(api, ORDERS, f'{{"product": "book", "options": {options}}}', HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 400
    assert_nothing_written()


def test_json_nested_a_thousand_levels_is_a_400_not_a_server_error(api, customer):
    add_method(customer, "approved")
    body = '{"product": "book", "options": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}"

    response = post_raw(api, ORDERS, body, HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 400
    assert_nothing_written()


@pytest.mark.parametrize("product", ["bo\\u0000ok", "\\ud800", "x" * 201])
def test_a_bad_product_reference_is_a_400(api, customer, product):
    add_method(customer, "approved")

    response = post_raw(api, ORDERS, f'{{"product": "{product}"}}', HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 400
    assert_nothing_written()


@pytest.mark.parametrize("key", [f"order-{PAN.replace(' ', '')}", "k\x00", "k\ud800"])
def test_an_idempotency_key_with_card_data_or_control_characters_is_refused(api, customer, key):
    add_method(customer, "approved")

    response = api.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert_nothing_written()


@pytest.mark.parametrize(
    ("data", "word"),
    [
        ({"reference": "approved", "label": "Visa \x00"}, "label"),
        ({"reference": "approved\x00", "label": "Visa"}, "reference"),
        ({"reference": "approved", "label": f"Visa {PAN} 123"}, "label"),  # a CVV next to the card
        ({"reference": "approved", "label": "Visa •••• 4242 cvc 123"}, "label"),
        ('{"reference": "approved", "label": "\\ud800"}', "label"),
    ],
)
def test_a_method_label_or_reference_with_a_cvv_or_control_characters_is_refused(api, customer, data, word):
    body = f'{{"provider": "sandbox", "data": {data if isinstance(data, str) else json.dumps(data)}}}'
    response = post_raw(api, METHODS, body)

    assert response.status_code == 400, response.content
    assert word in json.dumps(response.json())
    assert not PaymentMethod.objects.exists()


def test_card_data_typed_anywhere_never_reaches_the_database_or_the_logs(api, customer, caplog):
    caplog.set_level(logging.DEBUG)
    digits = PAN.replace(" ", "")
    api.post(METHODS, {"provider": "sandbox", "data": {"reference": f"approved:{digits}", "label": f"Visa {PAN}"}},
             format="json")  # fmt: skip
    api.post(ORDERS, {"product": "book", "options": {"note": PAN}}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    api.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{digits}")
    api.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")

    stored = json.dumps(
        [
            list(PaymentMethod.objects.values()),
            list(OneClickOrder.objects.values()),
            list(ProviderExchange.objects.values()),
        ],
        default=str,
    )
    assert OneClickOrder.objects.count() == 1  # only the clean purchase
    for text in (stored, caplog.text):
        assert digits not in text and PAN not in text


def test_a_uuid_key_is_never_taken_for_a_card_number(api, customer):
    """Its digit groups can pass the Luhn check (12345678-1234-1234-...): the button's keys are UUIDs."""
    add_method(customer, "approved")
    key = "40000566-5566-5556-abcd-0123456789ab"  # 4000 0566 5566 5556 is a test card number

    assert api.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 201
