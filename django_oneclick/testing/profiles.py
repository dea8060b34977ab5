"""Conformance profiles of the built-in providers, each paired with its fake (see ``conformance``).

Where a fake has no uniform switch for a failure, its profile adapts: the sandbox's outcomes are
chosen by the saved method's reference, 2Checkout's reference problems by the previous order the
method refers to, Firmly's errors by the card and the fake's stock and addresses.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.offers import Offer
from django_oneclick.providers.base import MethodDetails
from django_oneclick.providers.firmly import encrypt_card
from django_oneclick.providers.sandbox.server import stored_order
from django_oneclick.providers.twocheckout import previous_order_method
from django_oneclick.testing import billerix as bx
from django_oneclick.testing import rye
from django_oneclick.testing.billerix import BillerixFake
from django_oneclick.testing.conformance import WAIT, Expected, Failure, ProviderProfile, Run
from django_oneclick.testing.digitalriver import DigitalRiverFake
from django_oneclick.testing.firmly import TEST_CARD, FirmlyFake
from django_oneclick.testing.rye import RyeFake
from django_oneclick.testing.twocheckout import TwoCheckoutFake

REFERENCE = "conformance-book"
#: After the wait, still unknown: how a provider with no lookup by our reference leaves an order.
STAYS_UNKNOWN = ("unknown", WAIT, "unknown")
#: Refused before acting, then found absent from complete records after the wait.
NEVER_PLACED = Expected(("unknown", WAIT, "failed"), "not_placed")


def failed(code: str) -> Expected:
    return Expected(("failed",), code)


def failed_later(code: str) -> Expected:
    """Accepted (``processing``), then failed on a status refresh."""
    return Expected(("processing", "failed"), code)


def _fake_call(method: str, *args: Any, **kwargs: Any) -> Any:
    """A trigger calling one of the fake's control methods."""
    return lambda run: getattr(run.fake, method)(*args, **kwargs)


def _fake_set(**attributes: Any) -> Any:
    """A trigger setting the fake's knobs."""

    def trigger(run: Run) -> None:
        for name, value in attributes.items():
            setattr(run.fake, name, value)

    return trigger


# --- sandbox ------------------------------------------------------------------------------------


def _sandbox_method(behaviour: str) -> Any:
    return lambda run: run.save_method(MethodDetails(reference=behaviour, label=f"Sandbox {behaviour}"))


class SandboxProfile(ProviderProfile):
    """In-process: no fake server, its API answers through httpx's MockTransport; the method's
    reference chooses the outcome, so the only after-send fault is ``timeout`` (placed, answer lost)."""

    name, backend, title = "sandbox", "django_oneclick.providers.sandbox.SandboxProvider", "sandbox"
    offer = Offer(REFERENCE, "A good book", Decimal("19.99"), "EUR")
    after_send_faults = ("timeout",)
    lost_answer = Expected(("unknown", "completed"))
    failures = {
        "declined": Failure(_sandbox_method("declined"), failed("declined")),
        "server_error": Failure(_sandbox_method("server_error"), failed("provider_unavailable")),
    }
    table_failure = "declined"

    def start_fake(self) -> None:
        return None

    def provider_options(self, fake: Any) -> dict[str, Any]:
        return {"ASYNC_SECONDS": 0, "SLOW_SECONDS": 0.5, "NOT_FOUND_AFTER": 0}

    def save_method(self, run: Run) -> Any:
        return _sandbox_method("approved")(run)

    def inject_fault(self, run: Run, fault: str) -> None:
        if fault not in self.after_send_faults:
            raise ValueError(f"The sandbox cannot produce {fault!r}.")
        _sandbox_method(fault)(run)

    def purchases_sent(self, run: Run) -> int:
        return ProviderExchange.objects.filter(order__owner=run.customer, operation="purchase").count()

    def provider_orders(self, run: Run) -> list[str]:
        held = (stored_order(str(o.public_id)) for o in OneClickOrder.objects.filter(owner=run.customer))
        return [order["id"] for order in held if order]


# --- Digital River ------------------------------------------------------------------------------

DR_PRODUCT = "5321623900"
DR_SHOPPER = "conformance-shopper"
#: dr.ERRORS -> where the order ends (tests/test_conformance.py checks that none is missing).
DR_EXPECTED = {
    "declined": failed("declined"),
    "apply-payment-failure": failed("declined"),
    "apply-shopper-failure": failed("apply-shopper-failure"),
    "already-exists": NEVER_PLACED,  # "an order exists" is no word that nothing was charged
    "invalid-request": failed("invalid-request"),
    "forbidden": failed("authentication_failed"),
    "resource-not-found": failed("resource-not-found"),
    "method-not-allowed": failed("method-not-allowed"),
    "precondition-failed": failed("precondition-failed"),
    "payload-too-large": failed("payload-too-large"),
    "server-error": NEVER_PLACED,
}


class DigitalRiverProfile(ProviderProfile):
    """Digital River keeps no reference of ours: a lost answer's order is shown to an operator as
    a candidate (found by product and time), never taken for ours by itself."""

    name, backend, title = "digitalriver", DigitalRiverFake.backend, "Digital River"
    offer = Offer(REFERENCE, "A good book", Decimal("19.99"), "EUR", {"digitalriver": DR_PRODUCT})
    lost_answer = Expected(STAYS_UNKNOWN, "needs_operator", candidates=1)
    failures = {
        **{error: Failure(_fake_call("fail_next_with", error), end) for error, end in DR_EXPECTED.items()},
        # Undocumented (a gateway's redirect): a 3xx is no answer, so the outcome is unknown.
        "redirect-after-acting": Failure(
            lambda run: run.fake.redirect_next_purchase(acted=True),
            Expected(STAYS_UNKNOWN, "needs_operator", candidates=1),
            provider_orders=1,
            documented=False,
        ),
        "redirect-before-acting": Failure(
            lambda run: run.fake.redirect_next_purchase(acted=False), NEVER_PLACED, documented=False
        ),
    }
    table_failure = "declined"

    def start_fake(self) -> DigitalRiverFake:
        fake = DigitalRiverFake().start()
        fake.add_product(DR_PRODUCT, "A good book", Decimal("19.99"), "EUR")
        fake.add_shopper(DR_SHOPPER)
        return fake

    def save_method(self, run: Run) -> Any:
        return run.save_method(MethodDetails(reference=DR_SHOPPER, label="Digital River default"))

    def is_purchase(self, request: Any) -> bool:
        path = request.path
        return request.method == "POST" and path.startswith("/v1/shoppers/me/products/") and path.endswith("/purchase")

    def provider_orders(self, run: Run) -> list[str]:
        return list(run.fake.orders)


# --- Billerix -----------------------------------------------------------------------------------

BX_PRODUCT = "CONFBOOK"
#: bx.ERRORS -> where the order ends (tests/test_conformance.py checks that none is missing).
BX_EXPECTED = {
    "product_not_found": failed("not_found"),
    "validation": failed("invalid_request"),
    "race_condition": failed("race_condition"),
    "unauthorized": failed("authentication_failed"),
    "server_error": Expected(STAYS_UNKNOWN, "needs_operator"),
    **{f"charge_{code}": failed("declined") for code in bx.CHARGE_FAILURES},
}


class BillerixProfile(ProviderProfile):
    """Asynchronous: the order is ``processing`` until its charge result is polled. Billerix
    documents no lookup by our reference, so a lost answer stays unknown for an operator."""

    name, backend, title = "billerix", BillerixFake.backend, "Billerix"
    offer = Offer(REFERENCE, "A good book", Decimal("19.99"), "EUR", {"billerix": BX_PRODUCT})
    purchase_states = ("processing", "completed")
    lost_answer = Expected(STAYS_UNKNOWN, "needs_operator")
    failures = {
        **{error: Failure(_fake_call("fail_next_with", error), end) for error, end in BX_EXPECTED.items()},
        **{
            f"charge_result_{code}": Failure(
                _fake_call("decline_next", code), failed_later("declined"), provider_orders=1
            )
            for code in bx.CHARGE_FAILURES
        },
        "charge_result_failed": Failure(
            _fake_call("decline_next", None), failed_later("charge_failed"), provider_orders=1
        ),
    }
    table_failure = "charge_result_2105"

    def start_fake(self) -> BillerixFake:
        fake = BillerixFake().start()
        fake.add_product(BX_PRODUCT)
        return fake

    def save_method(self, run: Run) -> Any:
        return run.save_method(run.fake.method_for(run.fake.add_buyer()))

    def is_purchase(self, request: Any) -> bool:
        return (
            request.method == "POST"
            and request.path.startswith("/api/v3/buyers/")
            and request.path.endswith("/oneclick")
        )

    def provider_orders(self, run: Run) -> list[str]:
        return list(run.fake.orders)


# --- 2Checkout ----------------------------------------------------------------------------------

TCO_EMAIL = "ada@example.com"


def _tco_reference(email: str = TCO_EMAIL, status: str = "COMPLETE", ref_no: str = "") -> Any:
    """The customer pays with another previous order (unknown, not eligible, someone else's)."""

    def trigger(run: Run) -> None:
        reference = ref_no or run.fake.add_previous_order(email, status=status)
        run.save_method(previous_order_method(reference, TCO_EMAIL))

    return trigger


def _tco_new_status(status: str, approval: str = "OK") -> Any:
    def trigger(run: Run) -> None:
        run.fake.new_order_status = (status, approval)

    return trigger


class TwoCheckoutProfile(ProviderProfile):
    """SOAP over zeep; a lost answer is found with ``searchOrders`` by ExternalReference."""

    name, backend, title = "twocheckout", TwoCheckoutFake.backend, "2Checkout"
    offer = Offer(REFERENCE, "A good book", Decimal("19.99"), "EUR", {"twocheckout": "BOOK-1"})
    lost_answer = Expected(("unknown", "completed"))
    failures = {
        "product_code_invalid": Failure(_fake_set(catalogue={"another-product"}), failed("product_code_invalid")),
        "reference_invalid": Failure(_tco_reference(ref_no="12345"), failed("reference_invalid"), purchases_sent=0),
        "reference_refunded": Failure(_tco_reference(status="REFUND"), failed("reference_invalid"), purchases_sent=0),
        "email_mismatch": Failure(
            _tco_reference(email="someone.else@example.com"), failed("email_mismatch"), purchases_sent=0
        ),
        "authentication_failed": Failure(
            lambda run: run.fake.merchants.update({k: "another-secret" for k in run.fake.merchants}),
            failed("authentication_failed"),
            purchases_sent=0,
        ),
        "maintenance": Failure(_fake_set(maintenance=True), failed("provider_unavailable"), purchases_sent=0),
        "canceled": Failure(_tco_new_status("CANCELED"), failed("canceled"), provider_orders=1),
        "reversed": Failure(_tco_new_status("REVERSED"), failed("reversed"), provider_orders=1),
        "rejected": Failure(_tco_new_status("PENDING", "REJECTED"), failed("rejected"), provider_orders=1),
    }
    table_failure = "rejected"

    def start_fake(self) -> TwoCheckoutFake:
        return TwoCheckoutFake().start()

    def save_method(self, run: Run) -> Any:
        return run.save_method(previous_order_method(run.fake.add_previous_order(TCO_EMAIL), TCO_EMAIL))

    def is_purchase(self, request: Any) -> bool:
        return b"Envelope" in request.body and b"placeOrder>" in request.body

    def provider_orders(self, run: Run) -> list[str]:
        return [order["RefNo"] for order in run.fake.placed_orders()]


# --- Rye ----------------------------------------------------------------------------------------

RYE_URL = "https://merchant.example/products/conformance-book"


class RyeProfile(ProviderProfile):
    """Asynchronous: the checkout intent is polled until it completes; a lost answer is found in
    the list of intents by its ``referenceId`` (our order id)."""

    name, backend, title = "rye", RyeFake.backend, "Rye"
    # The merchant adds shipping and tax: the allowance covers them (the cap sent to Rye).
    offer = Offer(REFERENCE, "A good book", Decimal("19.99"), "USD", {"rye": RYE_URL}, Decimal("10.00"))
    purchase_states = ("processing", "completed")
    lost_answer = Expected(("unknown", "processing", "completed"))
    failures = {
        **{
            reason: Failure(_fake_call("fail_next_purchase", reason), failed_later(f"rye_{reason}"), provider_orders=1)
            for reason in rye.FAILURE_REASONS
        },
        "price_above_cap": Failure(
            lambda run: run.fake.prices.update({RYE_URL: 5000}),
            failed_later("rye_constraint_total_price_exceeded"),
            provider_orders=1,
        ),
        "validation_422": Failure(_fake_call("reject_next", 422, field_path="quantity"), failed("invalid_request")),
        "authentication_401": Failure(_fake_call("reject_next", 401), failed("authentication_failed")),
        "rate_limited_429": Failure(_fake_call("reject_next", 429), failed("provider_unavailable")),
        "unavailable_503": Failure(_fake_call("reject_next", 503), failed("provider_unavailable")),
        "internal_error_500": Failure(_fake_call("reject_next", 500), NEVER_PLACED),
    }
    table_failure = "payment_failed"

    def start_fake(self) -> RyeFake:
        fake = RyeFake().start()
        fake.prices[RYE_URL] = 1999
        return fake

    def save_method(self, run: Run) -> Any:
        details = MethodDetails(reference="tok_visa_fake_4242", label="Visa •••• 4242", data={"type": "stripe_token"})
        return run.save_method(details)

    def is_purchase(self, request: Any) -> bool:
        return request.method == "POST" and request.path.rstrip("/") == f"{rye.INTENTS_PATH}/purchase"

    def provider_orders(self, run: Run) -> list[str]:
        intents = list(run.fake.intents.values())
        return [intent.order_id if intent.state == "completed" else intent.id for intent in intents]


# --- Firmly -------------------------------------------------------------------------------------


def _firmly_card(**card: str) -> Any:
    """Save the test card (changed by ``card``), encrypted for the fake's current key."""

    def trigger(run: Run) -> None:
        values = {**TEST_CARD, **card}
        year, month = int(values["year"]), int(values["month"])
        details = MethodDetails(
            reference=encrypt_card(values, run.fake.public_jwk()),
            label=f"Visa •••• {values['number'][-4:]}",
            last4=values["number"][-4:],
            expires=date(year, month, calendar.monthrange(year, month)[1]),
            data={"kid": run.fake.current_kid},
        )
        run.save_method(details)

    return trigger


class FirmlyProfile(ProviderProfile):
    """Synchronous, streamed; Firmly documents no lookup by our reference, so a lost answer stays
    unknown for an operator to settle from Firmly's dashboard."""

    name, backend, title = "firmly", FirmlyFake.backend, "Firmly"
    offer = Offer(REFERENCE, "A good book", Decimal("19.99"), "USD")
    lost_answer = Expected(STAYS_UNKNOWN, "manual_check")
    failures = {
        "InvalidAddress": Failure(
            lambda run: run.fake.undeliverable_postal_codes.add("10001"), failed("invalid_address")
        ),
        "InsufficientStock": Failure(_fake_set(stock={REFERENCE: 0}), failed("insufficient_stock")),
        "InvalidVariant": Failure(_fake_set(stock={"another": 5}), failed("invalid_variant")),
        "PaymentFailed": Failure(_firmly_card(number="4000000000000002"), failed("payment_failed")),
        "InvalidCard": Failure(_firmly_card(verification_value="12x"), failed("invalid_card")),
        "InvalidAppId": Failure(_fake_set(app_id="another-app"), failed("authentication_failed"), purchases_sent=0),
        # Undocumented: an error event after payment_processing; the card may have been charged.
        "error_after_payment": Failure(
            _fake_set(error_after_payment={"error": "CheckoutFailed", "code": 500, "message": "?"}),
            Expected(STAYS_UNKNOWN, "manual_check"),
            provider_orders=1,
            documented=False,
        ),
    }
    table_failure = "PaymentFailed"

    def start_fake(self) -> FirmlyFake:
        return FirmlyFake(stream_delay=0.01).start()

    def save_method(self, run: Run) -> Any:
        return run.save_method(run.fake.demo_method())

    def is_purchase(self, request: Any) -> bool:
        return request.method == "POST" and request.path.endswith("/place-order")

    def provider_orders(self, run: Run) -> list[str]:
        return [order["platform_order_number"] for order in run.fake.orders]


#: The built-in providers, in the README table's order.
PROFILES: list[ProviderProfile] = [
    SandboxProfile(),
    DigitalRiverProfile(),
    TwoCheckoutProfile(),
    BillerixProfile(),
    RyeProfile(),
    FirmlyProfile(),
]
