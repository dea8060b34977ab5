"""Two audiences, two messages: the customer reads only the catalogue's curated, translatable words
(django_oneclick.domain.messages) for every error code and progress step of every provider; the
provider's own text and state names stay with the operator (``error_message``, raw ``progress``,
the exchange log, the admin).

The walk covers each built-in provider from its declared mappings and from its conformance profile
(django_oneclick/testing/profiles.py): a purchase, one documented failure per error code it ends in,
and a lost answer, each run against the provider's fake, with the customer's view read after every
step."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.module_loading import import_string

from django_oneclick.api.serializers import OrderSerializer
from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.messages import CORE_MESSAGES, STATUS_MESSAGES, ProgressStep
from django_oneclick.domain.states import OrderStatus
from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.orders.customer import customer_view, message_for
from django_oneclick.providers import billerix, digitalriver
from django_oneclick.providers.base import Provider
from django_oneclick.providers.firmly import provider as firmly
from django_oneclick.providers.rye import FAILURE_MESSAGES
from django_oneclick.testing import billerix as billerix_fake
from django_oneclick.testing import rye as rye_fake
from django_oneclick.testing.billerix import BillerixFake
from django_oneclick.testing.conformance import UNSETTLED, ProviderProfile, Run
from django_oneclick.testing.digitalriver import DigitalRiverFake
from django_oneclick.testing.profiles import PROFILES
from tests.conftest import add_method
from tests.providers_helpers import buy, point_provider_at, read

BY_NAME = {profile.name: profile for profile in PROFILES}


def provider_class(profile: ProviderProfile) -> type[Provider]:
    return import_string(profile.backend)


def curated_messages() -> set[str]:
    """Every customer message the catalogue holds: the core's, per status, every provider's."""
    messages = [*CORE_MESSAGES.values(), *STATUS_MESSAGES.values()]
    for profile in PROFILES:
        messages += provider_class(profile).customer_messages.values()
    return {str(message) for message in messages}


STEP_LABELS = {str(step.label) for step in ProgressStep}
#: The raw states each provider documents (and its fake reports), beyond what it declares itself.
DOCUMENTED_STATES: dict[str, set[str]] = {
    "rye": set(rye_fake.STATES),
    "digitalriver": set(digitalriver.ORDER_STATES),
    "billerix": {"created", "authorized"} | billerix.SUCCESS_CHARGE_STATUSES | billerix.FAILURE_CHARGE_STATUSES,
    "firmly": {"order_processing", "payment_processing", "order_completed"},
}


# --- the catalogue ------------------------------------------------------------------------------


def test_every_core_code_and_every_status_has_curated_translatable_words():
    assert set(ErrorCode) <= set(CORE_MESSAGES)
    assert set(STATUS_MESSAGES) == set(OrderStatus)
    for message in [*CORE_MESSAGES.values(), *STATUS_MESSAGES.values()]:
        assert message == "" or isinstance(message, Promise), f"{message!r} is not translatable"
    # A failed or unknown order always tells the customer something.
    assert str(STATUS_MESSAGES[OrderStatus.FAILED]) and str(STATUS_MESSAGES[OrderStatus.UNKNOWN])


def test_the_progress_steps_are_few_and_translatable():
    assert 3 <= len(ProgressStep) <= 8
    assert all(isinstance(step.label, Promise) for step in ProgressStep)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_each_provider_declares_curated_words_and_steps(profile):
    cls = provider_class(profile)
    for code, message in cls.customer_messages.items():
        assert isinstance(message, Promise) and str(message), f"{profile.name} {code}: {message!r} is not curated"
    for state, step in cls.progress_steps.items():
        assert isinstance(step, ProgressStep), f"{profile.name} state {state!r} -> {step!r}"
    assert DOCUMENTED_STATES.get(profile.name, set()) <= set(cls.progress_steps)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_error_code_a_provider_documents_has_curated_words(profile):
    """Each code an order of this provider ends in (its profile's failures and lost answer) has
    words of its own in the catalogue: the provider's, or the core's for a core code."""
    cls = provider_class(profile)
    codes = {failure.expected.error_code for failure in profile.failures.values()} | {profile.lost_answer.error_code}
    missing = sorted(c for c in codes - {""} if c not in cls.customer_messages and c not in CORE_MESSAGES)
    assert not missing, f"{profile.name}: no curated words for {missing}"


def test_each_providers_own_error_table_is_in_its_catalogue():
    rye_messages = provider_class(BY_NAME["rye"]).customer_messages
    assert {f"rye_{reason}" for reason in rye_fake.FAILURE_REASONS} <= set(rye_messages)
    assert {code for _cls, code in firmly.ERRORS.values()} <= set(firmly.FirmlyProvider.customer_messages)
    assert set(FAILURE_MESSAGES) == set(rye_fake.FAILURE_REASONS)


# --- the walk: every scenario of every provider, as the customer reads it -----------------------


@dataclass(frozen=True)
class Seen:
    """One read of the order: what the operator keeps, and what the customer's API shows."""

    status: str
    error_code: str
    error_message: str
    raw_progress: str
    customer: dict[str, Any]
    #: The catalogue's words for the order's code and status, looked up while its provider is configured.
    catalogue_message: str


def _look(order: OneClickOrder) -> Seen:
    order.refresh_from_db()
    customer = dict(OrderSerializer(order).data)
    expected = str(message_for(order.provider, order.error_code, order.status))
    return Seen(order.status, order.error_code, order.error_message, order.progress, customer, expected)


def _walk(profile: ProviderProfile, arrange: Callable[[Run], None]) -> tuple[list[Seen], list[str]]:
    """Buy once after ``arrange``, then refresh as the conformance suite reconciles, reading the
    order after each step; returns the reads and every text the provider sent (exchange log)."""
    with profile.running() as run:
        arrange(run)
        order = run.buy()
        seen = [_look(order)]
        for attempt in range(2 * profile.max_refreshes):
            if order.status not in UNSETTLED:
                break
            if attempt == profile.max_refreshes:
                run.age_past_verdict(order)
            run.refresh(order)
            seen.append(_look(order))
        exchanges = ProviderExchange.objects.filter(order=order).values_list("response", "error")
        provider_texts = [text for response, error in exchanges for text in (*_texts(response), error)]
        return seen, provider_texts


def _texts(value: Any) -> Iterator[str]:
    """The text leaves of a recorded answer."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _scenarios() -> Iterator[Any]:
    for profile in PROFILES:
        yield pytest.param(profile, "purchase", id=f"{profile.name}-purchase")
        yield pytest.param(profile, "lost_answer", id=f"{profile.name}-lost_answer")
        by_code: dict[str, str] = {}
        for name, failure in profile.failures.items():
            by_code.setdefault(failure.expected.error_code, name)  # one failure per code it ends in
        for name in by_code.values():
            yield pytest.param(profile, name, id=f"{profile.name}-{name}")


def _arrangement(profile: ProviderProfile, scenario: str) -> Callable[[Run], None]:
    if scenario == "purchase":
        return lambda run: None
    if scenario == "lost_answer":
        return lambda run: profile.inject_fault(run, "timeout")
    return profile.failures[scenario].trigger


@pytest.mark.django_db
@pytest.mark.parametrize(("profile", "scenario"), list(_scenarios()))
def test_the_customer_reads_only_curated_words(profile, scenario):
    cls = provider_class(profile)
    seen, provider_texts = _walk(profile, _arrangement(profile, scenario))
    curated = curated_messages()

    for read_ in seen:
        customer = read_.customer
        assert "error_message" not in customer
        assert customer["customer_message"] in curated | {""}, customer["customer_message"]
        assert customer["customer_message"] == read_.catalogue_message
        assert customer["progress"] in STEP_LABELS | {""}, customer["progress"]
        assert customer["progress_step"] in {*ProgressStep.values, None}
        if read_.status in ("failed", "unknown"):
            assert customer["customer_message"], f"a {read_.status} order must tell the customer something"
        if read_.raw_progress:
            assert read_.raw_progress in cls.progress_steps, f"undeclared state {read_.raw_progress!r}"
        # The provider's words (at least three of them, and not curated words it happens to share)
        # and the operator's detail never reach the customer.
        shown = f"{customer['customer_message']} {customer['progress']}"
        for text in [*provider_texts, read_.error_message]:
            if len(text.split()) >= 3 and text not in curated:
                assert text not in shown
        if read_.raw_progress:
            assert customer["progress"] != read_.raw_progress  # a step's label, never the state's name
    final = seen[-1]
    if final.error_code:
        # Each code an order ends in has words of its own, not the status's fallback.
        assert final.error_code in cls.customer_messages or final.error_code in CORE_MESSAGES, final.error_code


# --- through the API and the order page: a decline and an authentication failure ----------------


DR_PRODUCT = "5321623900"  # the "book" offer's Digital River product id (tests/shop/offers.py)


@pytest.fixture
def digital_river(settings, customer):
    with DigitalRiverFake() as fake:
        fake.add_product(DR_PRODUCT, "A good book", Decimal("19.99"), "EUR")
        fake.add_shopper("shopper-1")
        point_provider_at(settings, "digitalriver", fake)
        add_method(customer, "shopper-1", provider="digitalriver", label="Digital River default")
        yield fake


@pytest.fixture
def billerix_refusing_our_keys(settings, customer):
    with BillerixFake() as fake:
        fake.add_product("book")
        buyer = fake.add_buyer()
        point_provider_at(settings, "billerix", fake, SECRET_KEY="not-the-secret")
        add_method(customer, buyer.charge_method_id, provider="billerix", data={"buyer_id": buyer.buyer_id})
        yield fake


def _customer_surfaces(api, client, customer, order_id: str) -> str:
    """Everything the customer can read about the order: the API (placing and reading) and the page."""
    client.force_login(customer)
    page = client.get(reverse("django_oneclick:order", kwargs={"public_id": order_id}))
    assert page.status_code == 200
    return json.dumps(read(api, order_id)) + page.content.decode()


@pytest.mark.django_db
def test_a_digital_river_decline_does_not_reach_the_customer(api, client, customer, digital_river):
    digital_river.fail_next_with("declined")

    response = buy(api)

    order = response.json()
    assert (order["status"], order["error_code"]) == ("failed", "declined")
    assert order["customer_message"] == "The payment was declined. Please use another payment method."
    assert "error_message" not in order
    stored = OneClickOrder.objects.get(public_id=order["id"])
    assert "identified by Digital River as fraudulent" in stored.error_message  # the operator's
    shown = response.content.decode() + _customer_surfaces(api, client, customer, order["id"])
    for provider_text in ("identified by Digital River as fraudulent", "fraud_block", "7011", "Digital River answered"):
        assert provider_text not in shown
    assert "The payment was declined. Please use another payment method." in shown


@pytest.mark.django_db
def test_a_billerix_authentication_failure_does_not_reach_the_customer(
    api, client, customer, billerix_refusing_our_keys
):
    response = buy(api)

    order = response.json()
    assert (order["status"], order["error_code"]) == ("failed", "authentication_failed")
    assert order["customer_message"] == "The shop could not reach its payment provider. Please try again later."
    stored = OneClickOrder.objects.get(public_id=order["id"])
    assert billerix_fake.UNAUTHORIZED in stored.error_message  # the operator's
    shown = response.content.decode() + _customer_surfaces(api, client, customer, order["id"])
    for provider_text in (billerix_fake.UNAUTHORIZED, "Billerix answered", "HTTP 500"):
        assert provider_text not in shown


@pytest.mark.django_db
def test_an_old_order_holding_a_providers_text_shows_the_catalogues_words(api, customer):
    """Orders written before the catalogue kept the provider's text as their customer message:
    the surfaces read the catalogue by code, so it never shows."""
    add_method(customer, "declined")
    order = buy(api).json()
    OneClickOrder.objects.filter(public_id=order["id"]).update(
        customer_message="Billerix: Insufficient funds (code 2104).", progress="retrieving_offer"
    )

    shown = read(api, order["id"])

    assert shown["customer_message"] == "The payment was declined. Please use another payment method."
    assert (shown["progress"], shown["progress_step"]) == ("", None)  # a final order shows no step


@pytest.mark.django_db
def test_an_undeclared_raw_state_shows_as_waiting_for_the_provider(api, customer):
    add_method(customer, "async")
    order = buy(api).json()
    OneClickOrder.objects.filter(public_id=order["id"]).update(progress="Zahlung in Prüfung")

    stored = OneClickOrder.objects.get(public_id=order["id"])
    shown = OrderSerializer(stored).data
    page = render_to_string("django_oneclick/order_detail.html", {"order": stored, "customer": customer_view(stored)})

    assert (shown["progress"], shown["progress_step"]) == ("Waiting for the payment provider", "waiting_for_provider")
    assert "Waiting for the payment provider. The order is being processed" in page
    assert "Prüfung" not in json.dumps(shown) + page
