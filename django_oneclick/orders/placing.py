"""Placing an order exactly once: the Idempotency-Key rules, writing the order before the
provider is called, calling it outside any transaction, and retrying a failed order as a new one.

An order is written ``pending`` and committed before the provider is called, so a crash can never
lose a charged order; a process that dies during the call leaves a ``pending`` order that
reconciliation (``orders.reconcile``) finds after ``STALE_PENDING_AFTER``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.codes import AuditOperation
from django_oneclick.domain.errors import (
    GENERAL,
    InvalidRequest,
    KeyReusedForAnotherRequest,
    OrderRequestInvalid,
    OutcomeUnknown,
    ProviderError,
    RequestInFlight,
)
from django_oneclick.domain.states import UNSETTLED, S
from django_oneclick.domain.types import PurchaseRequest
from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from django_oneclick.offers import resolve_buyer, resolve_offer
from django_oneclick.orders.exchange_log import OrderExchangeLog
from django_oneclick.orders.methods import choose_method, method_is_usable, saved_method
from django_oneclick.orders.retrying import RetryRefused, retry_refusal
from django_oneclick.orders.transitions import apply_error, apply_result, mark_interrupted, redacted
from django_oneclick.orders.validation import validate_idempotency_key, validate_json, validate_quantity, validate_text
from django_oneclick.providers.registry import get_provider

logger = logging.getLogger("django_oneclick")


@dataclass(frozen=True)
class PlacedOrder:
    order: OneClickOrder
    created: bool


@dataclass(frozen=True)
class PlacedBy:
    """An operator placing an order for the customer (a phone order, a renewal, a retry): who and
    why, written to the order's exchange log with the order, before the provider is called."""

    operator: str
    reason: str
    retry_of: OneClickOrder | None = None

    def audit(self, order: OneClickOrder) -> None:
        entry: dict[str, Any] = {"operator": self.operator, "reason": self.reason.strip()}
        note = f"Placed by {self.operator} for the customer: {self.reason.strip()}"
        if self.retry_of is not None:
            entry["retry_of"] = str(self.retry_of.public_id)
            note = f"Placed by {self.operator} as a retry of order {self.retry_of.public_id}: {self.reason.strip()}"
        ProviderExchange.objects.create(
            order=order,
            provider=order.provider,
            operation=AuditOperation.PLACED_BY_OPERATOR,
            request=entry,
            outcome="operator",
            error=note,
        )


def fingerprint(body: Mapping[str, Any]) -> str:
    """What identifies a request for the Idempotency-Key rules: its canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(user: Any, idempotency_key: str, request_fingerprint: str) -> OneClickOrder | None:
    order = OneClickOrder.objects.filter(owner=user, idempotency_key=idempotency_key).first()
    if order is None:
        return None
    if order.request_fingerprint != request_fingerprint:
        raise KeyReusedForAnotherRequest(
            "This Idempotency-Key was already used for a different request.", order
        )
    if order.status == S.PENDING:
        if not is_stale(order):
            raise RequestInFlight("A request with this Idempotency-Key is still being processed.", order)
        mark_interrupted(order)
    return order


def is_stale(order: OneClickOrder) -> bool:
    return order.created_at < timezone.now() - oneclick_settings.STALE_PENDING_AFTER


def place_order(
    *,
    user: Any,
    product: str,
    quantity: int,
    idempotency_key: str,
    payment_method_id: int | None = None,
    customer_ip: str | None = None,
    options: Mapping[str, Any] | None = None,
    placed_by: PlacedBy | None = None,
    retry_of: OneClickOrder | None = None,
) -> PlacedOrder:
    """Place a one-click order exactly once per (user, idempotency key).

    ``placed_by``: an operator places it for the customer (audited with the order, before the
    provider is called); ``retry_of``: the failed order this one places again (:func:`retry_order`).

    Call it outside any transaction (the app's views opt out of ``ATOMIC_REQUESTS``): the order
    is committed before the provider is called, so a crash can never lose a charged order.
    Raises :class:`OrderRequestInvalid` for bad input (nothing written) and
    :class:`IdempotencyConflict` for a key in flight or reused with another body.
    """
    idempotency_key = validate_idempotency_key(idempotency_key)
    validate_text("product", product, max_length=200)
    options = validate_json("options", dict(options or {}))
    if placed_by is not None:
        validate_text("reason", placed_by.reason, max_length=2000)
        if not placed_by.reason.strip():
            raise OrderRequestInvalid({"reason": ["Say why the order is placed for the customer: it is audited."]})
    body = {"product": product, "quantity": quantity, "payment_method": payment_method_id}
    if options:
        body["options"] = options
    request_fingerprint = fingerprint(body)
    existing = _replay(user, idempotency_key, request_fingerprint)
    if existing is not None:
        return PlacedOrder(existing, created=False)

    validate_quantity(quantity)
    offer = resolve_offer(product)
    if offer is None:
        raise OrderRequestInvalid({"product": ["This product is not available."]})
    method = choose_method(user, payment_method_id)
    provider = get_provider(method.provider)
    buyer = resolve_buyer(user)
    if provider.requires_buyer and buyer is None:
        raise OrderRequestInvalid(
            {GENERAL: ["Add a shipping address to your account before buying."]}
        )
    order = OneClickOrder(
        owner=user,
        payment_method=method,
        payment_label=method.label,
        provider=method.provider,
        product_reference=offer.reference,
        product_title=offer.title,
        provider_product_id=offer.product_id_for(method.provider),
        quantity=quantity,
        unit_price=offer.unit_price,
        total=offer.unit_price * quantity,
        max_total=offer.unit_price * quantity + offer.charges_allowance,
        currency=offer.currency,
        customer_ip=customer_ip,
        options=options,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        retry_of=retry_of,
    )
    purchase = _purchase_request(order, method, buyer)
    try:
        provider.prepare(purchase)
    except InvalidRequest as exc:
        raise OrderRequestInvalid({GENERAL: [str(exc.customer_message)]}) from exc
    try:
        with transaction.atomic():
            order.save()
            if placed_by is not None:
                placed_by.audit(order)
    except IntegrityError:
        existing = _replay(user, idempotency_key, request_fingerprint)
        if existing is None:  # not the key: the method was removed meanwhile
            raise OrderRequestInvalid({"payment_method": ["This payment method is no longer available."]}) from None
        return PlacedOrder(existing, created=False)

    _watch_for_interruption(order)
    _call_provider(order, purchase)
    if order.status in UNSETTLED:
        _refresh_in_background(order)
    return PlacedOrder(order, created=True)


def _purchase_request(order: OneClickOrder, method: PaymentMethod, buyer: Any) -> PurchaseRequest:
    return PurchaseRequest(
        order_id=str(order.public_id),
        product_id=order.provider_product_id,
        title=order.product_title,
        quantity=order.quantity,
        unit_price=order.unit_price,
        total=order.total,
        currency=order.currency,
        method=saved_method(method),
        customer_reference=str(order.owner.pk),
        customer_email=getattr(order.owner, "email", "") or "",
        customer_ip=order.customer_ip,
        buyer=buyer,
        options=order.options,
        max_total=order.max_total,
    )


def _call_provider(order: OneClickOrder, purchase: PurchaseRequest) -> None:
    provider = get_provider(order.provider)
    log = OrderExchangeLog(order, order.provider)
    try:
        result = provider.purchase(purchase, log)
    except ProviderError as exc:
        apply_error(order, exc)
        if exc.nothing_charged and order.payment_method is not None:
            method_is_usable(order.payment_method)
        return
    except Exception as exc:
        # A bug or an unforeseen failure after we may have sent the order: never guess.
        # Logged redacted: an exception's text may carry a credential or a card number.
        logger.error(
            "order %s: provider %s raised %s: %s\n%s",
            order.public_id,
            order.provider,
            type(exc).__name__,
            redacted(order, str(exc)),
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        apply_error(order, OutcomeUnknown(f"Unexpected error: {type(exc).__name__}"))
        return
    apply_result(order, result)


def _watch_for_interruption(order: OneClickOrder) -> None:
    """If this process dies during the provider call, the order stays ``pending``: a background
    check after ``STALE_PENDING_AFTER`` then reconciles it (see ``django_oneclick.tasks``)."""
    from django_oneclick.tasks import schedule_recovery  # it imports this module

    schedule_recovery(order)


def _refresh_in_background(order: OneClickOrder) -> None:
    """Hand an order the provider left unsettled to the background refresh task once the order
    is committed, so the customer's request never polls (see ``django_oneclick.tasks``)."""
    from django_oneclick.tasks import schedule_refresh  # it imports this module

    transaction.on_commit(lambda: schedule_refresh(order))


def retry_order(order: OneClickOrder, *, operator: str = "", reason: str = "") -> PlacedOrder:
    """Place a failed order again as a new order, where :func:`retry_refusal` allows it. The key is
    derived from the failed order, so retrying the same order twice gives the same new order, never
    two. With ``operator`` (and the reason), the retry is audited in both orders' exchange logs.

    Raises :class:`InvalidTransition` (a :class:`RetryRefused` with the reason) when the order may
    not be retried, :class:`OrderRequestInvalid` when its payment method was removed."""
    keys = [_retry_key(order), f"retry-of-{order.public_id}"]  # the latter: retries made by earlier versions
    earlier = OneClickOrder.objects.filter(owner=order.owner_id, idempotency_key__in=keys).first()
    if earlier is not None:
        return PlacedOrder(earlier, created=False)
    refusal = retry_refusal(order)
    if order.status == S.FAILED and order.payment_method_id is None:
        # Never charge another method than the one the customer chose.
        raise OrderRequestInvalid({"payment_method": ["The order's payment method was removed."]})
    if refusal is not None:
        raise RetryRefused(refusal)
    placed = place_order(
        user=order.owner,
        product=order.product_reference,
        quantity=order.quantity,
        idempotency_key=_retry_key(order),
        payment_method_id=order.payment_method_id,
        customer_ip=order.customer_ip,
        options=order.options,
        placed_by=PlacedBy(operator, reason, retry_of=order) if operator else None,
        retry_of=order,
    )
    if placed.created and operator:
        note = f"Retried by {operator} as order {placed.order.public_id} ({placed.order.status}): {reason.strip()}"
        ProviderExchange.objects.create(
            order=order,
            provider=order.provider,
            operation=AuditOperation.RETRIED_BY_OPERATOR,
            request={"operator": operator, "reason": reason.strip(), "retry": str(placed.order.public_id)},
            outcome="operator",
            error=note,
        )
    return placed


def _retry_key(order: OneClickOrder) -> str:
    """Derived from the failed order, without digits: an id's digit groups may pass for a card
    number (Luhn), which the key's validation refuses."""
    return f"retry-of-{digit_free(order.public_id)}"


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def digit_free(value: uuid.UUID) -> str:
    """A UUID as 32 letters (hex digits 0-9 become g-p): unique, and never a card number."""
    return value.hex.translate(_NO_DIGITS)
