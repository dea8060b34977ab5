"""Shared steps of the end-to-end provider tests: configure a provider against its fake, buy
and read orders through the REST API, and check that no secret reached the DB, logs or admin."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django_oneclick.models import OneClickOrder, ProviderExchange

ORDERS_URL = "/oneclick/api/orders/"


def point_provider_at(settings: Any, name: str, fake: Any, **options: Any) -> None:
    """Configure provider ``name`` against ``fake`` (short timeouts) and let every read of an
    unsettled order ask the provider."""
    providers = {
        **settings.ONECLICK["PROVIDERS"],
        name: {"BACKEND": fake.backend, **fake.provider_options(), "READ_TIMEOUT": 0.5, **options},
    }
    settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": providers, "STATUS_REFRESH_INTERVAL": timedelta(0)}


def buy(api: Any, product: str = "book", **body: Any) -> Any:
    """POST an order with a fresh Idempotency-Key; returns the response."""
    return api.post(ORDERS_URL, {"product": product, **body}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def read(api: Any, order_id: str) -> dict[str, Any]:
    """GET the order, which refreshes an unsettled one from its provider."""
    response = api.get(f"{ORDERS_URL}{order_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def stored(order: dict[str, Any]) -> OneClickOrder:
    """The order as the operator reads it: its ``error_message`` and raw ``progress`` are never in the API."""
    return OneClickOrder.objects.get(public_id=order["id"])


def assert_nothing_leaked(secrets: Iterable[str], caplog: Any, admin_client: Any) -> None:
    """None of ``secrets`` appears in the exchange log, the captured logs or any order's admin page."""
    secrets = [s for s in secrets if s]
    assert secrets, "a leak check needs the secrets to look for"
    exchanges = list(ProviderExchange.objects.values("request", "response", "error"))
    assert exchanges, "no exchange was recorded"
    stored = json.dumps(exchanges, default=str)
    pages = [
        admin_client.get(f"/admin/django_oneclick/oneclickorder/{pk}/change/")
        for pk in OneClickOrder.objects.values_list("pk", flat=True)
    ]
    assert pages and all(page.status_code == 200 for page in pages)
    for secret in secrets:
        assert secret not in stored
        assert secret not in caplog.text
        for page in pages:
            assert secret not in page.content.decode()
