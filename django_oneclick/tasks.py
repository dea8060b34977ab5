"""Background status refresh on Django's Tasks framework: orders a provider left unsettled
(processing, requires_action, unknown) are brought to a final state with no customer watching.

``django.tasks`` on Django 6, the ``django-tasks`` backport on Django 5.2; the shop picks the
engine with the ``TASKS`` setting (``django-tasks-db`` for one machine, an RQ or Celery-backed
backend beyond). Each run asks the provider once through :func:`services.refresh_order` (the
code the ``oneclick_refresh`` command and the admin use) and, while the order stays unsettled,
enqueues the next run later along ``ONECLICK["REFRESH_BACKOFF"]``, up to
``ONECLICK["REFRESH_MAX_ATTEMPTS"]`` runs; then it leaves the order to an operator.

A backend that cannot defer a task (the default ``ImmediateBackend``) would poll inside the
customer's request, so nothing is enqueued there: such shops run ``oneclick_refresh`` from cron.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

try:
    from django.tasks import task  # Django 6
except ImportError:  # Django 5.2
    from django_tasks import task

from django_oneclick import services
from django_oneclick.conf import oneclick_settings
from django_oneclick.models import OneClickOrder

logger = logging.getLogger("django_oneclick")

GAVE_UP = "refresh_gave_up"


def backoff_delay(attempt: int) -> timedelta:
    """How long to wait before check number ``attempt + 1`` (the last delay repeats)."""
    delays = oneclick_settings.REFRESH_BACKOFF
    return delays[min(attempt, len(delays) - 1)]


def schedule_refresh(order: OneClickOrder) -> bool:
    """Enqueue the next background check of ``order``, after the backoff for the checks done so
    far. False (and the order waits for cron or a status read) when the backend cannot defer
    tasks or enqueueing failed: the order is safely stored either way."""
    try:
        backend = refresh_order_task.get_backend()
        if not backend.supports_defer:
            logger.debug("order %s: task backend cannot defer; no background refresh", order.public_id)
            return False
        run_after = timezone.now() + backoff_delay(order.refresh_attempts)
        refresh_order_task.using(run_after=run_after).enqueue(str(order.public_id))
    except Exception:
        logger.exception("order %s: the background refresh could not be enqueued", order.public_id)
        return False
    return True


@task()
def refresh_order_task(order_public_id: str) -> str:
    """Ask the provider where an order stands; while it stays unsettled, check again later
    until ``REFRESH_MAX_ATTEMPTS``. Returns the order's status."""
    order = (
        OneClickOrder.objects.select_related("payment_method", "owner")
        .filter(public_id=order_public_id)
        .first()
    )
    if order is None:
        return "missing"
    attempts_before = order.refresh_attempts
    services.refresh_order(order)
    if order.status not in services.UNSETTLED:
        return order.status
    if order.refresh_attempts == attempts_before:  # refresh_order counts failed fetches itself
        OneClickOrder.objects.filter(pk=order.pk).update(refresh_attempts=F("refresh_attempts") + 1)
        order.refresh_from_db(fields=["refresh_attempts"])
    if order.refresh_attempts >= oneclick_settings.REFRESH_MAX_ATTEMPTS:
        _leave_to_operator(order)
    else:
        schedule_refresh(order)
    return order.status


def _leave_to_operator(order: OneClickOrder) -> None:
    """Stop checking: the order keeps its status and says why nobody asks any more."""
    message = (
        f"Still {order.status} after {order.refresh_attempts} background status checks "
        f"({order.error_code or 'no error'}: {order.error_message or 'none'}). Check the order at "
        f"{order.provider} (provider order id: {order.provider_order_id or 'none'}); "
        "`manage.py oneclick_refresh` or the admin's refresh action asks again."
    )
    services.transition(order, order.status, error_code=GAVE_UP, error_message=message)
    logger.warning("order %s: %s", order.public_id, message)
