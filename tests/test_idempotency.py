"""The Idempotency-Key rules (IETF draft "The Idempotency-Key HTTP Header Field"), per customer."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.providers.sandbox import SandboxProvider
from tests.conftest import add_method

ORDERS = "/oneclick/api/orders/"
BODY = {"product": "book", "quantity": 1}


def buy(client, key="key-1", body=BODY):
    return client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def purchases():
    return ProviderExchange.objects.filter(operation="purchase").count()


class WorkerKilled(BaseException):
    """Stands in for a crash (killed worker) between writing the order and hearing back."""


def crash(self, request, log):
    raise WorkerKilled


@pytest.mark.django_db
def test_missing_key_is_400_with_a_message(api, customer):
    add_method(customer)
    response = api.post(ORDERS, BODY, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "Idempotency-Key": ["This key is required: one unique key per purchase."]
    }
    assert OneClickOrder.objects.count() == 0


@pytest.mark.django_db
def test_same_key_same_body_returns_the_same_order(api, customer):
    add_method(customer)
    first = buy(api)
    again = buy(api)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert OneClickOrder.objects.count() == 1
    assert purchases() == 1


@pytest.mark.django_db
def test_body_field_order_and_spelling_of_defaults_do_not_matter(api, customer):
    add_method(customer)
    first = buy(api, body={"quantity": 1, "product": "book"})
    again = buy(api, body={"product": "book"})  # quantity defaults to 1
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


@pytest.mark.django_db
def test_same_key_different_body_is_422(api, customer):
    add_method(customer)
    first = buy(api).json()
    response = buy(api, body={"product": "book", "quantity": 2})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "This Idempotency-Key was already used for a different request.",
        "order": first["id"],
    }
    other_product = buy(api, body={"product": "mug", "quantity": 1})
    assert other_product.status_code == 422
    assert OneClickOrder.objects.count() == 1
    assert purchases() == 1


@pytest.mark.django_db
def test_replay_while_the_first_is_in_flight_is_409(api, customer, monkeypatch):
    """The replay arrives while the provider is still working on the first request."""
    add_method(customer)
    replies = []
    original = SandboxProvider.purchase

    def purchase_while_customer_clicks_again(self, request, log):
        replies.append(buy(api))
        return original(self, request, log)

    monkeypatch.setattr(SandboxProvider, "purchase", purchase_while_customer_clicks_again)
    first = buy(api)
    assert first.status_code == 201
    assert first.json()["status"] == "completed"
    [replay] = replies
    assert replay.status_code == 409
    assert replay.json() == {
        "detail": "A request with this Idempotency-Key is still being processed.",
        "order": first.json()["id"],
    }
    assert purchases() == 1


@pytest.mark.django_db
def test_crashed_request_is_409_while_fresh_then_unknown_once_stale(api, customer, monkeypatch):
    add_method(customer)
    monkeypatch.setattr(SandboxProvider, "purchase", crash)
    with pytest.raises(WorkerKilled):
        buy(api)
    monkeypatch.undo()
    order = OneClickOrder.objects.get()
    assert order.status == "pending"

    assert buy(api).status_code == 409

    # STALE_PENDING_AFTER (5 minutes by default) later, the outcome is unknown: it is
    # reconciled, never sent again.
    OneClickOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    stale = buy(api)
    assert stale.status_code == 200
    assert stale.json()["id"] == str(order.public_id)
    assert (stale.json()["status"], stale.json()["error_code"]) == ("unknown", "interrupted")
    assert purchases() == 0

    # The sandbox never received it, so the status fetch settles it as not placed.
    settled = api.get(f"{ORDERS}{order.public_id}/").json()
    assert (settled["status"], settled["error_code"]) == ("failed", "not_placed")
    assert purchases() == 0


@pytest.mark.django_db
def test_stale_threshold_comes_from_settings(api, customer, monkeypatch, settings):
    settings.ONECLICK = {**settings.ONECLICK, "STALE_PENDING_AFTER": timedelta(hours=1)}
    add_method(customer)
    monkeypatch.setattr(SandboxProvider, "purchase", crash)
    with pytest.raises(WorkerKilled):
        buy(api)
    monkeypatch.undo()
    OneClickOrder.objects.update(created_at=timezone.now() - timedelta(minutes=30))
    assert buy(api).status_code == 409
    OneClickOrder.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    assert buy(api).json()["status"] == "unknown"


@pytest.mark.django_db
def test_key_is_remembered_for_at_least_24_hours(api, customer):
    add_method(customer)
    first = buy(api).json()
    OneClickOrder.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = buy(api)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert purchases() == 1


@pytest.mark.django_db
def test_keys_are_scoped_per_customer(api, customer, other_customer):
    add_method(customer)
    add_method(other_customer)
    other = APIClient()
    other.force_login(other_customer)

    mine = buy(api, key="shared-key")
    theirs = buy(other, key="shared-key", body={"product": "mug", "quantity": 2})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert OneClickOrder.objects.get(public_id=mine.json()["id"]).owner == customer
    assert OneClickOrder.objects.get(public_id=theirs.json()["id"]).owner == other_customer
    assert theirs.json()["total"] == "17.00"
    assert purchases() == 2
    # And each replay still finds its own order.
    assert buy(api, key="shared-key").json()["id"] == mine.json()["id"]


@pytest.mark.django_db
def test_failed_order_replayed_is_the_same_failed_order_not_a_new_charge(api, customer):
    add_method(customer, "declined")
    first = buy(api).json()
    assert first["status"] == "failed"
    again = buy(api)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert purchases() == 1


@pytest.mark.django_db
def test_invalid_request_does_not_use_up_the_key(api, customer):
    add_method(customer)
    assert buy(api, body={"product": "nope"}).status_code == 400
    assert buy(api).status_code == 201
