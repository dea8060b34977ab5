"""The provider interface: the base class every provider extends, and, for provider authors,
everything a provider needs in one import (the boundary types and the errors it raises).

A provider turns a :class:`PurchaseRequest` into a :class:`ProviderResult` or raises one of the
:class:`ProviderError` subclasses. It never touches the database: the order rules
(:mod:`django_oneclick.orders`) own the order and its state, and get every call recorded through
the :class:`ExchangeLog` they pass in. See docs/writing-a-provider.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from django.core.checks import CheckMessage
from django.core.checks import Error as CheckError

from django_oneclick.domain.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MethodNotSupported,
    NotFound,
    OrderNotFound,
    OrderNotIdentified,
    OutcomeUnknown,
    PaymentDeclined,
    ProviderError,
    ProviderUnavailable,
    failure_after_sending,
)
from django_oneclick.domain.messages import CustomerText, ProgressStep
from django_oneclick.domain.types import (
    BUYER_REQUIRED,
    Buyer,
    Candidate,
    Exchange,
    ExchangeDraft,
    ExchangeLog,
    MethodDetails,
    ProviderResult,
    ProviderStatus,
    PurchaseRequest,
    SavedMethod,
    StatusRequest,
    buyer_problems,
)
from django_oneclick.providers.credentials import CachedCredential
from django_oneclick.providers.options import ProviderOptions, option, parse_options
from django_oneclick.redaction import Redactor

__all__ = [
    "BUYER_REQUIRED",
    "AuthenticationFailed",
    "Buyer",
    "CachedCredential",
    "Candidate",
    "CustomerText",
    "Exchange",
    "ExchangeDraft",
    "ExchangeLog",
    "InvalidRequest",
    "MethodDetails",
    "MethodNotSupported",
    "NotFound",
    "OrderNotFound",
    "OrderNotIdentified",
    "OutcomeUnknown",
    "PaymentDeclined",
    "ProgressStep",
    "Provider",
    "ProviderError",
    "ProviderOptions",
    "ProviderResult",
    "ProviderStatus",
    "ProviderUnavailable",
    "PurchaseRequest",
    "SavedMethod",
    "StatusRequest",
    "buyer_problems",
    "failure_after_sending",
    "option",
]


class Provider:
    """Base of every provider. Subclasses implement :meth:`purchase` and :meth:`fetch_status`,
    and declare their options as a dataclass (``options_class``, see
    :mod:`~django_oneclick.providers.options`): parsed once here, every problem reported by the
    system checks, secrets redacted wherever they appear.
    """

    display_name: ClassVar[str] = "Provider"
    options_class: ClassVar[type[ProviderOptions]] = ProviderOptions
    #: Extra keys this provider's payloads use for secrets or card data.
    sensitive_keys: ClassVar[tuple[str, ...]] = ()
    #: True for providers that ship goods and need the buyer's address (``BUYER_RESOLVER``).
    requires_buyer: ClassVar[bool] = False
    #: How far the provider's clock may run ahead of ours, for matching by time.
    clock_skew: ClassVar[timedelta] = timedelta(minutes=2)
    #: The dotted path of the Django app this provider ships (its views, templates, static files,
    #: template tags), which a shop configuring it adds to INSTALLED_APPS (system check E010).
    #: Its AppConfig may name a urls module in ``oneclick_urls``: the core mounts it under
    #: ``providers/<app label>/`` in the ``django_oneclick`` namespace.
    django_app: ClassVar[str] = ""
    #: The customer's words for this provider's own error codes (the codes it raises or reports
    #: beyond the core's, which have theirs): curated and translatable (``gettext_lazy``), never
    #: the provider's text, which stays in ``error_message`` for the operator. A code without an
    #: entry gets the core's words for its status (see :mod:`django_oneclick.domain.messages`).
    customer_messages: ClassVar[Mapping[str, CustomerText]] = {}
    #: The raw states this provider reports as an order's ``progress`` (kept for the operator) ->
    #: the step the customer is shown; an undeclared state shows as waiting for the provider.
    progress_steps: ClassVar[Mapping[str, ProgressStep]] = {}

    options: ProviderOptions

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.options, self.option_problems = parse_options(self.options_class, options)
        self.redactor = Redactor(secrets=self.options.secret_values(), extra_keys=self.sensitive_keys)

    # -- what a provider implements

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        raise NotImplementedError

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        raise NotImplementedError

    def prepare(self, request: PurchaseRequest) -> None:
        """Raise :class:`InvalidRequest` for a purchase this provider would refuse, before the
        order is written or anything is sent (documented rules, missing address, ...)."""

    def register_method(self, data: Mapping[str, Any]) -> MethodDetails:
        """Check what a customer submitted to save a method; providers that allow it override."""
        raise MethodNotSupported()

    def method_is_usable(self, method: SavedMethod) -> bool:
        """False when the saved method must be entered again (e.g. an encryption key rotated)."""
        return True

    def close(self) -> None:
        """Release pooled connections."""

    @property
    def purchase_timeout(self) -> timedelta:
        """The longest one purchase call may run before it gives up (every request it makes,
        each to its timeout). No verdict on an order may be reached sooner: until then the
        purchase may still be in flight and succeed (see the system checks E007 and E008)."""
        return timedelta(0)

    @property
    def not_found_after(self) -> timedelta:
        return timedelta(seconds=self.options.NOT_FOUND_AFTER)

    # -- shared behaviour

    def check(self) -> list[CheckMessage]:
        """System-check messages for this provider's options: one per missing (E005) or bad (E009)
        option. Providers add checks of how their options fit together."""
        return [
            CheckError(
                f"ONECLICK['PROVIDERS'][{self.name!r}] {'is missing' if problem.missing else 'option'} "
                f"{problem.key!r}" + ("." if problem.missing else f" {problem.message}"),
                hint=f"See the {self.display_name} provider's options in docs/providers/.",
                id="django_oneclick.E005" if problem.missing else "django_oneclick.E009",
            )
            for problem in self.option_problems
        ]

    def candidates_found(
        self, request: StatusRequest, candidates: list[Candidate], *, records_complete: bool
    ) -> ProviderError:
        """The provider's records hold no reference of ours, only orders of the same product placed
        while our purchase may have run (``candidates``). None of them is a match by itself: a
        customer may have bought the same thing twice. The core sets aside those already settling
        another of our orders and leaves the rest to an operator (see :class:`OrderNotIdentified`)."""
        return OrderNotIdentified(
            f"{self.display_name} keeps no reference of ours; "
            + (
                f"{len(candidates)} of its orders of product {request.product_id!r} were placed while the purchase "
                f"may have run ({', '.join(c.provider_order_id for c in candidates)})."
                if candidates
                else f"none of its orders of product {request.product_id!r} was placed while the purchase may have run."
            ),
            candidates=candidates,
            records_complete=records_complete,
            sought=f"order of product {request.product_id!r} placed after {request.created_at:%Y-%m-%d %H:%M:%S} UTC",
        )

    def placed_during_purchase(self, request: StatusRequest, placed_at: str) -> bool:
        """Whether the provider's timestamp of an order falls while our purchase may have run:
        from the order's creation to the end of the whole purchase timeout, widened by
        ``clock_skew`` on both sides because the two clocks differ. The window decides only what
        an operator is shown (and, when nothing is in it, that nothing was placed), never a
        match; so it errs wide. An unreadable timestamp counts as inside."""
        try:
            moment = datetime.fromisoformat(placed_at)
        except (TypeError, ValueError):
            return True
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        earliest = request.created_at - self.clock_skew
        return earliest <= moment <= request.created_at + self.purchase_timeout + self.clock_skew

    def missing_order(
        self, request: StatusRequest, sought: str, *, records_complete: bool
    ) -> ProviderError:
        """The provider's records show no ``sought`` (our order whose purchase answer was lost):
        it was never placed (:class:`OrderNotFound`) only when the records read were complete
        and the provider had ``NOT_FOUND_AFTER`` seconds to record it; otherwise unknown."""
        waited = datetime.now(UTC) - request.created_at
        # Never while the purchase itself may still be running, whatever NOT_FOUND_AFTER says.
        if records_complete and waited > max(self.not_found_after, self.purchase_timeout):
            return OrderNotFound(f"{self.display_name} has no {sought}.")
        return OutcomeUnknown(
            f"{self.display_name} shows no {sought} "
            + ("yet." if records_complete else "in the part of its records read: an operator must check.")
        )

    @contextmanager
    def exchange(self, log: ExchangeLog, operation: str, request: Any = None) -> Iterator[ExchangeDraft]:
        """Time and record one call; whatever happens, the redacted exchange is logged."""
        draft = ExchangeDraft(request=request)
        started = time.monotonic()
        outcome, error = "ok", ""
        try:
            yield draft
        except ProviderError as exc:
            outcome, error = exc.code, exc.message
            raise
        except Exception as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            log.record(
                Exchange(
                    operation=operation,
                    request=self.redactor(draft.request),
                    response=self.redactor(draft.response),
                    http_status=draft.http_status,
                    duration_ms=round((time.monotonic() - started) * 1000),
                    outcome=outcome,
                    error=self.redactor.text(error),
                )
            )
