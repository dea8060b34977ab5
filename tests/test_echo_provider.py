"""The invented Echo provider (tests/echo/, written from docs/writing-a-provider.md): its options
under the system checks, its signature against the fake's own check, its refusal before anything is
written, and its secrets kept out of the log. The money rules run in tests/test_conformance.py."""

import httpx
import pytest
from django.core.checks import run_checks

from django_oneclick.models import OneClickOrder, ProviderExchange
from tests.conftest import add_method
from tests.echo.fake import API_KEY, API_SECRET, EchoFake
from tests.providers_helpers import assert_nothing_leaked, buy, point_provider_at

BACKEND = "tests.echo.provider.EchoProvider"


@pytest.fixture
def fake():
    with EchoFake() as server:
        yield server


def check_messages(settings, **options):
    settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": {"echo": {"BACKEND": BACKEND, **options}}}
    return [(m.id, m.msg) for m in run_checks() if m.id and m.id.startswith("django_oneclick.")]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, [("django_oneclick.E005", "'API_KEY'"), ("django_oneclick.E005", "'API_SECRET'")]),
        ({"API_KEY": "k", "API_SECRET": "s", "READ_TIMEOUT": "soon"}, [("django_oneclick.E009", "'READ_TIMEOUT'")]),
        ({"API_KEY": "k", "API_SECRET": "s", "NOT_FOUND_AFTER": 5}, [("django_oneclick.E008", "'NOT_FOUND_AFTER'")]),
        ({"API_KEY": "k", "API_SECRET": "s", "SIGNING": "md5"}, [("django_oneclick.E009", "'SIGNING'")]),
        ({"API_KEY": "k", "API_SECRET": "s"}, []),
    ],
)
def test_the_system_checks_name_each_bad_option(settings, options, expected):
    messages = check_messages(settings, **options)

    assert all(any(i == code and name in m for i, m in messages) for code, name in expected), messages
    assert len(messages) == len(expected), messages


@pytest.mark.django_db
def test_a_purchase_is_signed_as_the_fake_checks_it_and_its_secrets_stay_out_of_the_log(
    settings, api, customer, fake, caplog, admin_client
):
    point_provider_at(settings, "echo", fake)
    add_method(customer, "echo-customer-1", provider="echo")

    data = buy(api).json()

    assert (data["status"], data["provider_order_id"]) == ("completed", next(iter(fake.orders)))
    assert fake.orders[data["provider_order_id"]]["reference"] == data["id"]
    logged = ProviderExchange.objects.get(operation="purchase").request["headers"]
    assert logged == {"X-Echo-Key": "[redacted]", "X-Echo-Signature": "[redacted]"}
    assert_nothing_leaked([API_KEY, API_SECRET], caplog, admin_client)


def test_the_fake_refuses_a_request_signed_with_another_secret(fake):
    headers = {"X-Echo-Key": API_KEY, "X-Echo-Signature": "0" * 64}
    response = httpx.post(f"{fake.base_url}/orders", json={"reference": "r"}, headers=headers)

    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")
    assert fake.orders == {}


@pytest.mark.django_db
def test_more_items_than_echo_sells_are_refused_before_anything_is_written(settings, api, customer, fake):
    point_provider_at(settings, "echo", fake)
    settings.ONECLICK = {**settings.ONECLICK, "MAX_QUANTITY": 20}
    add_method(customer, "echo-customer-1", provider="echo")

    response = buy(api, quantity=11)

    assert response.status_code == 400
    assert "At most 10 items" in str(response.json())
    assert (OneClickOrder.objects.count(), len(fake.requests)) == (0, 0)
