"""Retrying a failed order: the one rule (orders.retry_refusal) and the admin's action, which asks
for confirmation and a reason, reports each result at its true level and audits it."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.html import escape

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.orders import RetryRefused, flag_late_charge, retry_order, retry_refusal
from tests.conftest import add_method

ORDERS = "/admin/django_oneclick/oneclickorder/"


@pytest.fixture
def staff_client(client, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def buy(api, key, product="book", **body):
    response = api.post("/oneclick/api/orders/", {"product": product, **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content
    return OneClickOrder.objects.get(public_id=response.json()["id"])


def failed_order(customer, error_code, *, product="book", method=None, **fields):
    """A failed order as a provider left it, written directly (the codes of every provider)."""
    method = method or customer.oneclick_payment_methods.first() or add_method(customer, "approved")
    return OneClickOrder.objects.create(
        owner=customer,
        payment_method=method,
        payment_label=method.label,
        provider="sandbox",
        product_reference=product,
        product_title="A good book",
        provider_product_id=product,
        quantity=1,
        unit_price="19.99",
        total="19.99",
        currency="EUR",
        status="failed",
        error_code=error_code,
        idempotency_key=f"key-{OneClickOrder.objects.count()}",
        request_fingerprint="x",
        **fields,
    )


def link(order):
    return f'<a href="{ORDERS}{order.pk}/change/">{str(order.public_id)[:8]}</a>'


def notes(response):
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def retry(client, *orders, **data):
    """Press the action (its confirmation page), then confirm it with ``data`` (the reason)."""
    selected = [order.pk for order in orders]
    page = client.post(ORDERS, {"action": "retry_as_new_order", "_selected_action": selected}, follow=True)
    if not data:
        return page
    return client.post(
        ORDERS, {"action": "retry_as_new_order", "_selected_action": selected, "confirm": "yes", **data}, follow=True
    )


# --- the rule -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_the_customer_cancelled_at_confirmation_is_never_retried(api, customer):
    """The issue's case: the sandbox's confirmation page, Cancel, the order fails action_declined."""
    add_method(customer, "requires_action")
    order = buy(api, "k1")
    assert order.status == "requires_action"
    api.force_authenticate(None)
    from django.test import Client

    browser = Client()
    browser.force_login(customer)
    action = reverse("django_oneclick:sandbox-action", kwargs={"order_id": order.public_id})
    browser.post(action, {"decision": "cancel"})
    order.refresh_from_db()
    assert (order.status, order.error_code) == ("failed", "action_declined")
    assert retry_refusal(order) == (
        "Not retried: the customer cancelled at the payment confirmation (code action_declined). "
        "A new charge is not what the customer wanted."
    )
    with pytest.raises(RetryRefused):
        retry_order(order)
    assert OneClickOrder.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("action_declined", "the customer cancelled"),
        ("cancelled", "cancelled at the provider"),
        ("canceled", "cancelled at the provider"),
        ("rye_checkout_intent_expired", "expired before the customer confirmed"),
        ("declined", "The customer must use another payment method"),
        ("payment_failed", "The customer must use another payment method"),
        ("invalid_card", "The customer must use another payment method"),
        ("rye_payment_failed", "The customer must use another payment method"),
        ("rye_payment_cvc_expired", "security code expired"),
        ("charge_failed", "The customer must use another payment method"),
        ("rejected", "fraud check"),
        ("refund", "refunded"),
        ("reversed", "reversed"),
        ("provider_order_taken", "settles another of our orders"),
    ],
)
def test_cancellations_declines_and_moved_money_are_refused(customer, code, why):
    order = failed_order(customer, code)
    refusal = retry_refusal(order)
    assert refusal is not None and why in refusal and f"(code {code})" in refusal
    with pytest.raises(RetryRefused, match="Not retried"):
        retry_order(order)
    assert OneClickOrder.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code", ["provider_unavailable", "not_placed", "settled_by_operator", "rye_offer_retrieval_failed", "failed", ""]
)
def test_failures_that_say_nothing_against_buying_may_be_retried(customer, code):
    assert retry_refusal(failed_order(customer, code)) is None


@pytest.mark.django_db
def test_a_retry_is_never_retried_and_an_order_is_retried_once(customer):
    original = failed_order(customer, "provider_unavailable")
    placed = retry_order(original)
    assert placed.created and placed.order.retry_of == original
    assert retry_refusal(original) == f"Already retried as order {placed.order.public_id} (completed)."
    assert retry_order(original).order == placed.order  # the same retry, not a second one
    customer.oneclick_payment_methods.update(reference="server_error")
    failed_retry = failed_order(customer, "provider_unavailable", retry_of=original)
    assert retry_refusal(failed_retry) == (
        "This order is itself a retry: a retry is never retried (place a new order instead)."
    )
    with pytest.raises(RetryRefused):
        retry_order(failed_retry)


@pytest.mark.django_db
def test_not_when_the_customer_bought_the_product_again_since(api, customer):
    add_method(customer, "server_error")
    failed = buy(api, "k1")
    customer.oneclick_payment_methods.update(reference="approved")
    again = buy(api, "k2")  # the customer clicked again, it went through
    assert (failed.status, again.status) == ("failed", "completed")
    assert retry_refusal(failed) == f"The customer ordered this product again since: order {again.public_id} completed."
    other_product = failed_order(customer, "provider_unavailable", product="mug")
    assert retry_refusal(other_product) is None


@pytest.mark.django_db
def test_not_with_a_late_charge_nor_a_method_to_enter_again(api, customer):
    method = add_method(customer, "declined")
    declined = buy(api, "k1")
    flag_late_charge(declined, "PRV-LATE", "the provider answered completed.")
    declined.refresh_from_db()
    assert "late charge" in retry_refusal(declined)
    down = failed_order(customer, "provider_unavailable", product="mug", method=method)
    method.needs_reentry = True
    method.save()
    down.refresh_from_db()
    assert retry_refusal(down) == "The order's payment method must be entered again by the customer."


# --- the admin's action -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_action_asks_for_confirmation_and_a_reason_and_says_what_it_will_not_retry(staff_client, customer):
    retryable = failed_order(customer, "provider_unavailable")
    cancelled = failed_order(customer, "action_declined", product="mug")
    page = retry(staff_client, retryable, cancelled)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/django_oneclick/oneclickorder/retry_confirmation.html"
    html = page.content.decode()
    assert f'name="_selected_action" value="{retryable.pk}"' in html
    assert f'name="_selected_action" value="{cancelled.pk}"' not in html
    assert "the customer cancelled at the payment confirmation" in html
    assert OneClickOrder.objects.count() == 2  # nothing placed by the first press

    response = retry(staff_client, retryable, reason="  ")
    assert ("error", "Nothing was retried: say why.") in notes(response)
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert OneClickOrder.objects.count() == 2


@pytest.mark.django_db
def test_each_result_is_reported_at_its_level_and_audited(staff_client, customer):
    ok = failed_order(customer, "provider_unavailable")
    ok_method = ok.payment_method
    bad_method = add_method(customer, "declined", default=False, label="Sandbox declined")
    bad = failed_order(customer, "provider_unavailable", product="mug", method=bad_method)
    response = retry(staff_client, ok, bad, reason="Ticket 7: the outage is over.")
    ok_retry, bad_retry = (OneClickOrder.objects.get(retry_of=order) for order in (ok, bad))
    assert notes(response) == [
        ("success", f"Retry of {link(ok)} completed as order {link(ok_retry)}."),
        ("error", f"Retry of {link(bad)} failed as order {link(bad_retry)}: {escape(bad_retry.error_message)}"),
    ]
    assert (ok_retry.status, bad_retry.status) == ("completed", "failed")
    assert ok_retry.payment_method == ok_method and bad_retry.payment_method == bad_method
    placed_audit = ok_retry.exchanges.get(operation="placed_by_operator")
    assert placed_audit.request == {
        "operator": "root",
        "reason": "Ticket 7: the outage is over.",
        "retry_of": str(ok.public_id),
    }
    retried_audit = ok.exchanges.get(operation="retried_by_operator")
    assert retried_audit.request["operator"] == "root" and retried_audit.request["retry"] == str(ok_retry.public_id)
    # The audit entry of the new order is written before its provider call.
    assert list(ok_retry.exchanges.values_list("operation", flat=True)) == ["placed_by_operator", "purchase"]

    again = retry(staff_client, ok)
    assert notes(again) == [("warning", f"{link(ok)}: Already retried as order {ok_retry.public_id} (completed).")]
    assert OneClickOrder.objects.count() == 4


@pytest.mark.django_db
def test_an_unsettled_retry_is_a_warning_not_a_success(staff_client, customer):
    method = add_method(customer, "async")
    order = failed_order(customer, "provider_unavailable", method=method)
    response = retry(staff_client, order, reason="asked by phone")
    [(level, text)] = notes(response)
    assert level == "warning" and "processing (the provider has not settled it yet)" in text


@pytest.mark.django_db
def test_the_audit_entries_are_kept_by_the_retention(customer):
    from datetime import timedelta

    from django_oneclick.orders.retention import prune_exchanges

    order = failed_order(customer, "provider_unavailable")
    placed = retry_order(order, operator="root", reason="why")
    ProviderExchange.objects.update(created_at=placed.order.created_at - timedelta(days=400))
    prune_exchanges(timedelta(days=90))
    assert set(ProviderExchange.objects.values_list("operation", flat=True)) == {
        "placed_by_operator",
        "retried_by_operator",
    }
