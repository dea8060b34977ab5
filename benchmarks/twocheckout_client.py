"""Benchmark: why the 2Checkout provider builds its zeep client once per process.

Against the local SOAP fake, side by side in one run: a one-click purchase (login,
isValidOrderReference, getOrder, placeOrder) with the process-wide client, and the same purchase
preceded by parsing the WSDL again, as a client built per call would. Prints the time per
purchase and the ratio. Run: ``python benchmarks/twocheckout_client.py [N]`` from the repository root.
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

import zeep  # noqa: E402

from django_oneclick.providers.base import PurchaseRequest, SavedMethod  # noqa: E402
from django_oneclick.providers.twocheckout import TwoCheckoutProvider, wsdl_parse_count  # noqa: E402
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
        provider = TwoCheckoutProvider("twocheckout", options)
        reference = fake.demo_method().reference
        purchase(provider, reference)  # warm up: the one parse of this process

        def with_fresh_parse():
            zeep.Client(options["WSDL_URL"])
            purchase(provider, reference)

        shared = per_purchase("purchase, process-wide client", count, lambda: purchase(provider, reference))
        fresh = per_purchase("purchase, WSDL parsed again first", count, with_fresh_parse)
        print(f"WSDL parses by the provider in this run: {wsdl_parse_count(options['WSDL_URL'])}")
        print(f"parsing per call / process-wide client = {fresh / shared:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
