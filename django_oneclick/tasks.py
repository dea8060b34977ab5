"""Background status refresh on Django's Tasks framework: orders a provider left unsettled
(processing, requires_action, unknown) are brought to a final state with no customer watching.

``django.tasks`` on Django 6, the ``django-tasks`` backport on Django 5.2; the shop picks the
engine with the ``TASKS`` setting (``django-tasks-db`` for one machine, an RQ or Celery-backed
backend beyond). Each run asks the provider once through :func:`refresh_order` (the
code the ``oneclick_refresh`` command and the admin use) and, while the order stays unsettled,
enqueues the next run later along ``ONECLICK["REFRESH_BACKOFF"]``, up to
``ONECLICK["REFRESH_MAX_ATTEMPTS"]`` runs; then it leaves the order to an operator.

A backend that cannot defer a task (the default ``ImmediateBackend``) would poll inside the
customer's request, so nothing is enqueued there: such shops run ``oneclick_refresh`` from cron.
"""

from __future__ import annotations

import enum
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import F
from django.utils import timezone

if TYPE_CHECKING:
    from django.tasks import task  # typed by django-stubs; the backport has the same API
else:
    try:
        from django.tasks import task  # Django 6
    except ImportError:  # Django 5.2
        from django_tasks import task

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.errors import ProviderError
from django_oneclick.domain.states import UNSETTLED, S
from django_oneclick.models import OneClickOrder
from django_oneclick.orders import refresh_order, transition
from django_oneclick.orders.transitions import customer_words

logger = logging.getLogger("django_oneclick")

GAVE_UP = ErrorCode.REFRESH_GAVE_UP


class CheckSkipped(enum.StrEnum):
    """What a background check returns when it did not ask the provider."""

    ORDER_MISSING = "missing"
    NOT_NEEDED = "not needed"


def backoff_delay(attempt: int) -> timedelta:
    """How long to wait before check number ``attempt + 1`` (the last delay repeats)."""
    delays = oneclick_settings.REFRESH_BACKOFF
    return delays[min(attempt, len(delays) - 1)]


def schedule_refresh(order: OneClickOrder, *, not_before: timedelta | None = None) -> bool:
    """Enqueue the next background check of ``order``, after the backoff for the checks done so
    far (or the provider's retry hint ``not_before``, if longer). False (and the order waits
    for cron or a status read) when the backend cannot defer tasks or enqueueing failed: the
    order is safely stored either way."""
    delay = max(backoff_delay(order.refresh_attempts), not_before or timedelta(0))
    return _enqueue(refresh_order_task, order, delay)


def schedule_recovery(order: OneClickOrder) -> bool:
    """Enqueue a check of a just-written ``pending`` order for after ``STALE_PENDING_AFTER``: if
    the process placing it died during the provider call, that check reconciles it."""
    return _enqueue(recover_interrupted_order_task, order, oneclick_settings.STALE_PENDING_AFTER)


def _enqueue(task: Any, order: OneClickOrder, delay: timedelta) -> bool:
    try:
        if not task.get_backend().supports_defer:
            logger.debug("order %s: task backend cannot defer; no background refresh", order.public_id)
            return False
        task.using(run_after=timezone.now() + delay).enqueue(str(order.public_id))
    except Exception:
        logger.exception("order %s: the background refresh could not be enqueued", order.public_id)
        return False
    return True


@task()
def refresh_order_task(order_public_id: str) -> str:
    """Ask the provider where an order stands; while it stays unsettled, check again later
    until ``REFRESH_MAX_ATTEMPTS``. Returns the order's status."""
    order = _load(order_public_id)
    if order is None:
        return CheckSkipped.ORDER_MISSING
    attempts_before = order.refresh_attempts
    retry_hint = None
    try:
        refresh_order(order, raise_provider_errors=True)
    except ProviderError as exc:
        retry_hint = timedelta(seconds=exc.retry_after) if exc.retry_after else None
    if order.status not in UNSETTLED:
        return order.status
    if order.refresh_attempts == attempts_before:  # refresh_order counts failed fetches itself
        OneClickOrder.objects.filter(pk=order.pk).update(refresh_attempts=F("refresh_attempts") + 1)
        order.refresh_from_db(fields=["refresh_attempts"])
    if order.refresh_attempts >= oneclick_settings.REFRESH_MAX_ATTEMPTS:
        _leave_to_operator(order)
    else:
        schedule_refresh(order, not_before=retry_hint)
    return order.status


@task()
def recover_interrupted_order_task(order_public_id: str) -> str:
    """Runs once, ``STALE_PENDING_AFTER`` after an order was written. An order still ``pending``
    then was interrupted (the process died during the provider call): it is reconciled and,
    while unsettled, handed to :func:`refresh_order_task`. Any other order is left alone: its
    own purchase already scheduled whatever it needs."""
    order = _load(order_public_id)
    if order is None or order.status != S.PENDING:
        return CheckSkipped.NOT_NEEDED
    return refresh_order_task.call(order_public_id)


def _load(order_public_id: str) -> OneClickOrder | None:
    return OneClickOrder.objects.select_related("payment_method", "owner").filter(public_id=order_public_id).first()


def _leave_to_operator(order: OneClickOrder) -> None:
    """Stop checking: the order keeps its status and says why nobody asks any more."""
    message = (
        f"Still {order.status} after {order.refresh_attempts} background status checks "
        f"({order.error_code or 'no error'}: {order.error_message or 'none'}). Check the order at "
        f"{order.provider} (provider order id: {order.provider_order_id or 'none'}); "
        "`manage.py oneclick_refresh` or the admin's refresh action asks again."
    )
    told = customer_words(order, GAVE_UP, order.status)
    transition(order, order.status, error_code=GAVE_UP, error_message=message, customer_message=told)
    logger.warning("order %s: %s", order.public_id, message)
