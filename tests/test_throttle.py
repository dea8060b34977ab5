"""The rate limits: atomic, one allowance per customer for every purchase path, in plain words."""

import pytest
from django.contrib.messages import get_messages

from django_oneclick.models import OneClickOrder, PaymentMethod
from django_oneclick.throttle import Rate, RateLimited, take
from tests.conftest import add_method

pytestmark = pytest.mark.django_db


def buy(api, key):
    return api.post("/oneclick/api/orders/", {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.parametrize(
    ("text", "rate"), [("20/min", Rate(20, 60)), ("5/10s", Rate(5, 10)), ("100/day", Rate(100, 86400))]
)
def test_rates_are_read_like_drfs(text, rate):
    assert Rate.parse(text) == rate


def test_the_allowance_is_per_customer_and_scope():
    for _ in range(3):
        take("orders", 1, "3/hour")
    with pytest.raises(RateLimited) as refused:
        take("orders", 1, "3/hour")
    assert 1 <= refused.value.retry_after <= 3601
    take("orders", 2, "3/hour")  # another customer
    take("methods", 1, "3/hour")  # another allowance


def test_the_no_javascript_form_is_throttled_like_the_api(client, customer, settings):
    """Defect: the form was not throttled at all (10 orders while the API answered 429)."""
    settings.ONECLICK = {**settings.ONECLICK, "ORDER_THROTTLE_RATE": "2/hour"}
    add_method(customer, "approved")
    client.force_login(customer)

    for key in ("a", "b", "c"):
        answer = client.post("/oneclick/buy/", {"product": "book", "idempotency_key": key})
        assert answer.status_code == 302

    assert OneClickOrder.objects.count() == 2
    said = [str(message) for message in get_messages(answer.wsgi_request)]
    assert said == ["You have placed many orders in a short time. Please wait a moment and try again."]


def test_the_form_and_the_api_share_one_allowance(client, api, customer, settings):
    settings.ONECLICK = {**settings.ONECLICK, "ORDER_THROTTLE_RATE": "2/hour"}
    add_method(customer, "approved")
    client.force_login(customer)
    client.post("/oneclick/buy/", {"product": "book", "idempotency_key": "form"})
    assert buy(api, "a").status_code == 201

    refused = buy(api, "b")

    assert refused.status_code == 429 and "Retry-After" in refused


def test_saving_methods_is_limited_per_customer(api, settings):
    settings.ONECLICK = {**settings.ONECLICK, "METHOD_THROTTLE_RATE": "2/hour"}
    answers = [
        api.post("/oneclick/api/payment-methods/", {"provider": "sandbox", "data": {}}, format="json").status_code
        for _ in range(3)
    ]

    assert answers == [201, 201, 429]
    assert PaymentMethod.objects.count() == 2
