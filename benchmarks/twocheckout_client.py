"""Benchmark: why a SOAP provider keeps its zeep client for the life of the instance (the registry
builds one instance per process).

Against the local SOAP fake, side by side in one run: a one-click purchase (isValidOrderReference,
getOrder, placeOrder; the login session is reused) on one provider whose own client is reused, and
the same purchase on a new provider each time, which fetches and parses the WSDL again (and logs
in again), as a provider built per call would. Prints the time per purchase and the ratio.
Run: ``python benchmarks/twocheckout_client.py [N]`` from the repository root.
"""

import os
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django_oneclick.providers.base import PurchaseRequest, SavedMethod  # noqa: E402
from django_oneclick.providers.twocheckout import TwoCheckoutProvider  # noqa: E402
from django_oneclick.testing.twocheckout import DEMO_EMAIL, TwoCheckoutFake  # noqa: E402


class DiscardLog:
    def record(self, exchange):
        pass

    def progress(self, step):
        pass


def purchase(provider, reference):
    request = PurchaseRequest(
        order_id=str(uuid.uuid4()),
        product_id="BOOK",
        title="A book",
        quantity=1,
        unit_price=Decimal("19.99"),
        total=Decimal("19.99"),
        currency="EUR",
        method=SavedMethod(reference=reference, data={"email": DEMO_EMAIL}),
        customer_reference="1",
        customer_email=DEMO_EMAIL,
        customer_ip="127.0.0.1",
    )
    return provider.purchase(request, DiscardLog())


def per_purchase(label, count, call):
    started = time.perf_counter()
    for _ in range(count):
        call()
    elapsed = (time.perf_counter() - started) / count
    print(f"{label:<44} {elapsed * 1000:8.2f} ms per purchase")
    return elapsed


def main(count: int) -> None:
    with TwoCheckoutFake() as fake:
        options = fake.provider_options()
        reference = fake.demo_method().reference
        provider = TwoCheckoutProvider("twocheckout", options)
        purchase(provider, reference)  # warm up: the one parse of this instance, the first login

        def on_a_new_provider():
            fresh = TwoCheckoutProvider("twocheckout", options)
            try:
                purchase(fresh, reference)
            finally:
                fresh.close()

        try:
            reused = per_purchase(
                "purchase, the provider's own client reused", count, lambda: purchase(provider, reference)
            )
            downloads = fake.wsdl_downloads
            fresh = per_purchase("purchase, a new provider (WSDL parsed again)", count, on_a_new_provider)
        finally:
            provider.close()
        print(f"WSDL downloads: {downloads} by the reused provider, {fake.wsdl_downloads - downloads} by the new ones")
        print(f"new provider per purchase / own client reused = {fresh / reused:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
