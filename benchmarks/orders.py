"""Benchmark: what one click costs the shop's server, side by side in one run.

Places N new orders through the REST API (sandbox provider, in-memory SQLite), replays each with
its Idempotency-Key, and reads each order, then prints the time per request and the ratios.
Run: ``python benchmarks/orders.py [N]`` from the repository root.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from django_oneclick.conf import oneclick_settings  # noqa: E402
from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange  # noqa: E402


def timed(label, calls):
    started = time.perf_counter()
    for call in calls:
        call()
    elapsed = (time.perf_counter() - started) / len(calls)
    print(f"{label:<28} {elapsed * 1000:8.2f} ms per request")
    return elapsed


def main(count: int) -> None:
    setup_test_environment()
    settings.ONECLICK = {**settings.ONECLICK, "ORDER_THROTTLE_RATE": "100000/min"}
    oneclick_settings.reload()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", "bench@example.com", "pw")
    PaymentMethod.objects.create(owner=user, provider="sandbox", reference="approved", label="Visa", is_default=True)
    client = APIClient()
    client.force_login(user)
    ids = []

    def place(key):
        def call():
            response = client.post(
                "/oneclick/api/orders/", {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY=key
            )
            assert response.status_code in (200, 201), response.content
            ids.append(response.json()["id"])
        return call

    new = timed("new order (201)", [place(f"k{i}") for i in range(count)])
    replay = timed("replay, same key (200)", [place(f"k{i}") for i in range(count)])
    first_ids = ids[:count]
    read = timed("read order (GET)", [lambda i=i: client.get(f"/oneclick/api/orders/{i}/") for i in first_ids])
    assert OneClickOrder.objects.count() == count
    assert ProviderExchange.objects.filter(operation="purchase").count() == count
    print(f"orders: {OneClickOrder.objects.count()}, provider purchase calls: {count} (replays made none)")
    print(f"replay / new = {replay / new:.2f}; read / new = {read / new:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
