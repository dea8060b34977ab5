"""Echo's conformance profile: the money rules against EchoFake (tests/test_conformance.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django_oneclick.offers import Offer
from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing import conformance as cf
from tests.echo.fake import ERRORS, EchoFake

#: ERRORS -> where the order ends.
EXPECTED = {
    "declined": cf.Expected(("failed",), "declined"),
    "invalid": cf.Expected(("failed",), "invalid"),
    "busy": cf.Expected(("failed",), "provider_unavailable"),
}


class EchoProfile(cf.ProviderProfile):
    """Echo keeps our reference: a lost answer is found again by it."""

    name, backend, title = "echo", EchoFake.backend, "Echo"
    offer = Offer("conformance-book", "A good book", Decimal("19.99"), "EUR", {"echo": "ECHO-BOOK"})
    lost_answer = cf.Expected(("unknown", "completed"))
    failures = {
        **{error: cf.Failure(lambda run, e=error: run.fake.fail_next_with(e), EXPECTED[error]) for error in ERRORS},
        # Undocumented (a bare 500): unknown, then "never placed" only after the wait.
        "internal_error": cf.Failure(
            lambda run: run.fake.answer_next(500),
            cf.Expected(("unknown", cf.WAIT, "failed"), "not_placed"),
            documented=False,
        ),
    }

    def start_fake(self) -> EchoFake:
        fake = EchoFake()
        fake.start()
        return fake

    def save_method(self, run: cf.Run) -> Any:
        return run.save_method(MethodDetails(reference="echo-customer-1", label="Echo card"))

    def is_purchase(self, request: Any) -> bool:
        return request.method == "POST" and request.path == "/orders"

    def provider_orders(self, run: cf.Run) -> list[str]:
        return list(run.fake.orders)
