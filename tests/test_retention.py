"""Retention: old exchanges go, orders and the operators' audit entries stay."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.orders import place_order, settle_manually
from tests.conftest import add_method

pytestmark = pytest.mark.django_db


def age(days):
    ProviderExchange.objects.update(created_at=timezone.now() - timedelta(days=days))


def test_old_exchanges_are_pruned_but_never_orders_or_audit_entries(customer):
    add_method(customer, "timeout")
    order = place_order(user=customer, product="book", quantity=1, idempotency_key="k").order
    settle_manually(order, "failed", operator="ops", reason="nothing at the provider")
    age(100)
    place_order(user=customer, product="book", quantity=1, idempotency_key="fresh")

    out = StringIO()
    call_command("oneclick_prune_exchanges", stdout=out)

    assert "Deleted 1 provider exchange(s) older than 90 day(s)." in out.getvalue()
    assert OneClickOrder.objects.count() == 2
    kept = sorted(ProviderExchange.objects.values_list("operation", flat=True))
    assert kept == ["purchase", "settled_by_operator"]  # the fresh purchase and the audit entry


def test_the_days_can_be_given_and_must_be_positive(customer):
    add_method(customer, "approved")
    place_order(user=customer, product="book", quantity=1, idempotency_key="k")
    age(10)

    with pytest.raises(CommandError):
        call_command("oneclick_prune_exchanges", days=0, stdout=StringIO())
    call_command("oneclick_prune_exchanges", days=30, stdout=StringIO())
    assert ProviderExchange.objects.count() == 1
    call_command("oneclick_prune_exchanges", days=7, stdout=StringIO())
    assert ProviderExchange.objects.count() == 0
