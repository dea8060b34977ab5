"""Reconciliation: asking the provider where an unsettled order stands (never sending it again),
weighing candidates found by product and time, and settling by hand."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.codes import AuditOperation, ErrorCode
from django_oneclick.domain.errors import (
    InvalidTransition,
    OrderNotFound,
    OrderNotIdentified,
    OutcomeUnknown,
    ProviderError,
)
from django_oneclick.domain.states import UNSETTLED, S
from django_oneclick.domain.types import SavedMethod, StatusRequest
from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.orders.exchange_log import OrderExchangeLog
from django_oneclick.orders.methods import saved_method
from django_oneclick.orders.placing import is_stale
from django_oneclick.orders.transitions import (
    apply_result,
    customer_words,
    error_fields,
    mark_interrupted,
    redacted,
    transition,
)
from django_oneclick.providers.registry import configured_names, get_provider

logger = logging.getLogger("django_oneclick")


def refresh_order(
    order: OneClickOrder, *, min_interval: timedelta | None = None, raise_provider_errors: bool = False
) -> OneClickOrder:
    """Ask the provider where an unsettled order stands and apply the answer.

    A stale ``pending`` order (its request was interrupted) becomes ``unknown`` first; an order
    whose purchase outcome is unknown is looked up by our order id, never sent again. With
    ``min_interval``, skip when someone asked less than that long ago. A failed fetch is
    counted in ``refresh_attempts`` and logged; with ``raise_provider_errors`` the provider's
    error is raised after that (the background task reads its retry hint).
    """
    if order.status == S.PENDING and is_stale(order):
        mark_interrupted(order)
    if order.status not in UNSETTLED:
        return order
    if order.provider not in configured_names():
        logger.warning(
            "order %s: provider %r is no longer configured; its status cannot be asked", order.public_id, order.provider
        )
        return order
    now = timezone.now()
    claim = OneClickOrder.objects.filter(pk=order.pk, status=order.status)
    if min_interval is not None:
        claim = claim.filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=now - min_interval))
    if not claim.update(last_checked_at=now):
        return order
    order.last_checked_at = now
    request = StatusRequest(
        order_id=str(order.public_id),
        provider_order_id=order.provider_order_id,
        method=saved_method(order.payment_method) if order.payment_method else SavedMethod(reference=""),
        created_at=order.created_at,
        product_id=order.provider_product_id,
        customer_ip=order.customer_ip,
    )
    log = OrderExchangeLog(order, order.provider)
    provider = get_provider(order.provider)
    try:
        result = provider.fetch_status(request, log)
    except OrderNotIdentified as exc:
        _weigh_candidates(order, provider, request, exc)
        return order
    except OrderNotFound as exc:
        if order.status == S.UNKNOWN:
            transition(order, S.FAILED, **error_fields(order, exc))
        return order
    except ProviderError as exc:
        if isinstance(exc, OutcomeUnknown) and order.status == S.UNKNOWN:
            # The provider's own word on why the order is still unknown (e.g. "settle it by hand"):
            # the operator reads it on the order, not only in the log.
            transition(order, S.UNKNOWN, **error_fields(order, exc))
        _count_failed_fetch(order, exc.message)
        if raise_provider_errors:
            raise
        return order
    except Exception as exc:
        # A bug or a provider removed from the settings: this order must not stop the page,
        # the worker's chain or a cron run over the other orders.
        logger.exception("order %s: status fetch raised", order.public_id)
        _count_failed_fetch(order, f"{type(exc).__name__}: {exc}")
        return order
    if result.status == order.status and not result.progress and not result.provider_order_id:
        return order
    apply_result(order, result)
    return order


def _weigh_candidates(
    order: OneClickOrder, provider: Any, request: StatusRequest, found: OrderNotIdentified
) -> None:
    """A lookup by product and time: candidates settling another of our orders are never ours.
    Any left are shown to an operator, the order stays ``unknown``; with none left it was never
    placed only on the provider's complete records after ``NOT_FOUND_AFTER``."""
    ids = [candidate.provider_order_id for candidate in found.candidates]
    taken = set(
        OneClickOrder.objects.filter(provider=order.provider, provider_order_id__in=ids)
        .exclude(pk=order.pk)
        .values_list("provider_order_id", flat=True)
    )
    free = [asdict(candidate) for candidate in found.candidates if candidate.provider_order_id not in taken]
    if free:
        transition(
            order,
            order.status,
            candidates=free,
            **error_fields(order, found),
        )
        return
    verdict = provider.missing_order(request, found.sought, records_complete=found.records_complete)
    if isinstance(verdict, OrderNotFound) and order.status == S.UNKNOWN:
        transition(order, S.FAILED, candidates=[], **error_fields(order, verdict))
    else:
        transition(order, order.status, candidates=[], **error_fields(order, found))


def _count_failed_fetch(order: OneClickOrder, message: str) -> None:
    OneClickOrder.objects.filter(pk=order.pk).update(refresh_attempts=F("refresh_attempts") + 1)
    order.refresh_from_db(fields=["refresh_attempts"])
    logger.warning("order %s: status fetch failed: %s", order.public_id, redacted(order, message))


def unsettled_orders():
    """Orders a refresh should look at: unsettled ones and interrupted pending ones."""
    stale = timezone.now() - oneclick_settings.STALE_PENDING_AFTER
    return OneClickOrder.objects.filter(
        Q(status__in=UNSETTLED) | Q(status=S.PENDING, created_at__lt=stale)
    ).select_related("payment_method", "owner")



def settle_manually(
    order: OneClickOrder, status: str, *, operator: str, reason: str, provider_order_id: str = ""
) -> bool:
    """An operator checked an unsettled order at the provider (e.g. in its dashboard) and records
    the outcome, with the provider's order id when it was completed (one of the order's
    candidates, say). Goes through the state machine and its signals like any other change, and is
    written to the order's exchange log as the audit trail (who, why). False if the order moved
    meanwhile; :class:`ProviderOrderTaken` if that provider order settles another order."""
    if status not in (S.COMPLETED, S.FAILED):
        raise InvalidTransition("An operator can only mark an order completed or failed.")
    if order.status not in UNSETTLED:
        raise InvalidTransition(f"Only an unsettled order can be settled by hand, not a {order.status} one.")
    if not reason.strip():
        raise InvalidTransition("Say why: the reason is kept in the order's audit trail.")
    if status == S.FAILED and provider_order_id:
        raise InvalidTransition("A failed order holds no provider order.")
    note = f"Marked {status} by {operator} after checking at {order.provider}: {reason.strip()}"
    fields: dict[str, Any] = {"candidates": []}
    if status == S.COMPLETED:
        fields.update(error_code="", error_message="", customer_message="")
        if provider_order_id:
            fields["provider_order_id"] = provider_order_id
    else:
        fields.update(
            error_code=ErrorCode.SETTLED_BY_OPERATOR,
            error_message=note,
            customer_message=customer_words(order, ErrorCode.SETTLED_BY_OPERATOR, S.FAILED),
        )
    settled = transition(order, status, **fields)
    ProviderExchange.objects.create(
        order=order,
        provider=order.provider,
        operation=AuditOperation.SETTLED_BY_OPERATOR,
        request={
            "operator": operator,
            "status": status,
            "reason": reason.strip(),
            "provider_order_id": provider_order_id,
        },
        outcome="operator" if settled else "operator_too_late",
        error=note,
    )
    return settled


def acknowledge_late_charge(order: OneClickOrder, *, operator: str, reason: str) -> bool:
    """An operator dealt with a late charge (refunded it, or fulfilled the order): the flag is
    cleared and what was done is kept in the audit trail. False if it was not flagged."""
    if not reason.strip():
        raise InvalidTransition("Say what was done about the late charge: it is kept in the audit trail.")
    cleared = OneClickOrder.objects.filter(pk=order.pk, late_charge=True).update(late_charge=False)
    if cleared:
        order.late_charge = False
        ProviderExchange.objects.create(
            order=order,
            provider=order.provider,
            operation=AuditOperation.LATE_CHARGE_HANDLED,
            request={"operator": operator, "reason": reason.strip()},
            outcome="operator",
            error=f"Late charge handled by {operator}: {reason.strip()}",
        )
    return bool(cleared)

