"""The back office: masked methods, read-only orders with their exchanges, refresh and retry, and
the operator's pages: settle an unsettled order by hand, acknowledge a late charge."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import resolve

from django_oneclick import signals
from django_oneclick.models import OneClickOrder
from django_oneclick.orders import flag_late_charge, transition
from django_oneclick.providers.base import Candidate
from django_oneclick.providers.sandbox import SandboxProvider
from tests.conftest import add_method

ORDERS = "/admin/django_oneclick/oneclickorder/"


@pytest.fixture
def staff_client(client, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def buy(api, key, product="book", **body):
    response = api.post(
        "/oneclick/api/orders/", {"product": product, **body}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 201, response.content
    return OneClickOrder.objects.get(public_id=response.json()["id"])


@pytest.mark.django_db
def test_payment_method_reference_is_masked(staff_client, customer):
    method = add_method(customer, "approved:tok_live_abcdef123456789", label="Visa •••• 4242")
    page = staff_client.get(f"/admin/django_oneclick/paymentmethod/{method.pk}/change/").content.decode()
    assert "Visa •••• 4242" in page
    assert "…6789" in page
    assert "tok_live_abcdef123456789" not in page
    listing = staff_client.get("/admin/django_oneclick/paymentmethod/?q=alice@example.com").content.decode()
    assert "Visa •••• 4242" in listing


@pytest.mark.django_db
def test_order_list_filters_and_search(staff_client, api, customer):
    add_method(customer, "approved")
    order = buy(api, "k1")
    customer.oneclick_payment_methods.update(reference="declined")
    failed = buy(api, "k2", product="mug")
    completed_list = staff_client.get("/admin/django_oneclick/oneclickorder/?status__exact=completed").content.decode()
    assert str(order.public_id) in completed_list and str(failed.public_id) not in completed_list
    by_id = staff_client.get(f"/admin/django_oneclick/oneclickorder/?q={order.provider_order_id}").content.decode()
    assert str(order.public_id) in by_id and str(failed.public_id) not in by_id
    by_email = staff_client.get("/admin/django_oneclick/oneclickorder/?q=alice@example.com").content.decode()
    assert str(order.public_id) in by_email and str(failed.public_id) in by_email


@pytest.mark.django_db
def test_order_detail_is_read_only_with_exchange_log(staff_client, api, customer):
    add_method(customer, "approved")
    order = buy(api, "k1")
    page = staff_client.get(f"/admin/django_oneclick/oneclickorder/{order.pk}/change/").content.decode()
    assert "purchase" in page and order.provider_order_id in page
    assert 'name="status"' not in page  # no editable status field
    assert 'name="_save"' not in page and 'name="_continue"' not in page  # no Save that pretends to save
    response = staff_client.post(
        f"/admin/django_oneclick/oneclickorder/{order.pk}/change/", {"status": "failed"}, follow=True
    )
    order.refresh_from_db()
    assert order.status == "completed"
    assert notes(response) == [("warning", "Orders are read-only: nothing was saved.")]


@pytest.mark.django_db
def test_refresh_action_settles_an_async_order(staff_client, api, customer):
    add_method(customer, "async")
    order = buy(api, "k1")
    assert order.status == "processing"
    response = staff_client.post(
        "/admin/django_oneclick/oneclickorder/",
        {"action": "refresh_status", "_selected_action": [order.pk]},
        follow=True,
    )
    order.refresh_from_db()
    assert order.status == "completed"
    assert "1 changed status" in response.content.decode()


@pytest.mark.django_db
def test_retry_action_places_one_new_order_however_often_it_is_pressed(staff_client, api, customer):
    method = add_method(customer, "server_error")
    failed = buy(api, "k1")
    assert (failed.status, failed.error_code) == ("failed", "provider_unavailable")
    method.reference = "approved"
    method.save()
    for _ in range(2):
        staff_client.post(
            "/admin/django_oneclick/oneclickorder/",
            {"action": "retry_as_new_order", "_selected_action": [failed.pk], "confirm": "yes", "reason": "outage"},
        )
    retries = OneClickOrder.objects.exclude(pk=failed.pk)
    assert retries.count() == 1
    assert retries.get().status == "completed"
    assert retries.get().retry_of == failed
    failed.refresh_from_db()
    assert failed.status == "failed"


@pytest.mark.django_db
def test_retry_action_refuses_orders_that_did_not_fail(staff_client, api, customer):
    add_method(customer, "approved")
    order = buy(api, "k1")
    response = staff_client.post(
        "/admin/django_oneclick/oneclickorder/",
        {"action": "retry_as_new_order", "_selected_action": [order.pk]},
        follow=True,
    )
    assert "Only a failed order can be retried" in response.content.decode()
    assert OneClickOrder.objects.count() == 1


# --- the operator's pages ---------------------------------------------------------------------


def notes(response):
    """The messages shown on the (last) page: (level, text)."""
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def settle_url(order):
    return f"{ORDERS}{order.pk}/settle/"


def late_charge_url(order):
    return f"{ORDERS}{order.pk}/late-charge/"


def settle(client, order, **data):
    """Open the order's settle page, then confirm it with ``data``, as an operator does."""
    page = client.get(settle_url(order))
    assert page.status_code == 200, page.content
    return client.post(settle_url(order), {"seen": page.context["form"]["seen"].value(), **data}, follow=True)


@pytest.fixture
def unknown_order(api, customer):
    add_method(customer, "timeout")
    order = buy(api, "lost")
    assert (order.status, order.provider_order_id) == ("unknown", "")
    return order


@pytest.fixture
def with_candidates(monkeypatch, staff_client, unknown_order):
    """The provider keeps no reference of ours and finds two orders of the product: the admin's
    refresh leaves the order unknown with them as candidates."""
    found = [Candidate("PRV-111", "2030-01-02T10:00:01Z", "paid"), Candidate("PRV-222", "2030-01-02T10:00:07Z", "paid")]

    def fetch_status(self, request, log):
        raise self.candidates_found(request, found, records_complete=True)

    monkeypatch.setattr(SandboxProvider, "fetch_status", fetch_status)
    staff_client.post(ORDERS, {"action": "refresh_status", "_selected_action": [unknown_order.pk]})
    unknown_order.refresh_from_db()
    assert unknown_order.status == "unknown"
    assert [c["provider_order_id"] for c in unknown_order.candidates] == ["PRV-111", "PRV-222"]
    return unknown_order


@pytest.mark.django_db
def test_the_order_page_shows_the_candidates_of_an_unknown_order(staff_client, with_candidates):
    page = staff_client.get(f"{ORDERS}{with_candidates.pk}/change/").content.decode()
    assert "<td><code>PRV-111</code></td><td>2030-01-02T10:00:01Z</td><td>paid</td>" in page
    assert "<td><code>PRV-222</code></td><td>2030-01-02T10:00:07Z</td><td>paid</td>" in page
    assert "2 provider orders may be this one" in page
    assert f'href="{settle_url(with_candidates)}"' in page
    listing = staff_client.get(f"{ORDERS}?status__exact=unknown").content.decode()
    assert '<span class="oneclick-note-flag">2 candidates</span>' in listing


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   "])
def test_settling_by_hand_needs_a_reason(staff_client, with_candidates, reason):
    response = settle(staff_client, with_candidates, status="completed", candidate="PRV-111", reason=reason)
    assert response.status_code == 200
    assert notes(response) == [("error", "The order was not settled: correct the errors below.")]
    assert response.context["form"].errors["reason"] == ["This field is required."]
    with_candidates.refresh_from_db()
    assert (with_candidates.status, with_candidates.provider_order_id) == ("unknown", "")
    assert len(with_candidates.candidates) == 2
    assert not with_candidates.exchanges.filter(operation="settled_by_operator").exists()


@pytest.mark.django_db
def test_an_operator_settles_an_unknown_order_by_hand(staff_client, with_candidates):
    order = with_candidates
    completed = []
    signals.order_completed.connect(receiver := lambda sender, order, **kw: completed.append(order.pk))
    try:
        response = settle(
            staff_client, order, status="completed", candidate="PRV-222", reason="  Ticket 42: PRV-222 is ours.  "
        )
    finally:
        signals.order_completed.disconnect(receiver)
    assert notes(response) == [("success", f"Order {order.public_id} marked completed as provider order PRV-222.")]
    order.refresh_from_db()
    assert (order.status, order.provider_order_id, order.candidates, order.error_code) == (
        "completed",
        "PRV-222",
        [],
        "",
    )
    assert completed == [order.pk]
    audit = order.exchanges.get(operation="settled_by_operator")
    assert audit.request == {
        "operator": "root",
        "status": "completed",
        "reason": "Ticket 42: PRV-222 is ours.",
        "provider_order_id": "PRV-222",
    }
    assert "root" in audit.error and "Ticket 42" in audit.error
    # Settled: no more settle link, and its page sends the operator back.
    assert settle_url(order) not in staff_client.get(f"{ORDERS}{order.pk}/change/").content.decode()


@pytest.mark.django_db
def test_an_operator_settles_an_order_failed_or_types_the_provider_order_id(staff_client, api, customer):
    add_method(customer, "timeout")
    typed, failed = buy(api, "k1"), buy(api, "k2", product="mug")
    response = settle(staff_client, typed, status="completed", reason="seen in the dashboard")
    assert response.context["form"].errors["provider_order_id"] == [
        "Completed needs the provider's order: choose a candidate or type its id."
    ]
    response = settle(staff_client, typed, status="completed", provider_order_id=" PRV-9 ", reason="dashboard")
    assert notes(response)[0][0] == "success"
    response = settle(staff_client, failed, status="failed", provider_order_id="PRV-10", reason="not there")
    assert notes(response)[0][0] == "error"
    response = settle(staff_client, failed, status="failed", reason="no such order in the dashboard")
    assert notes(response)[0][0] == "success"
    typed.refresh_from_db()
    failed.refresh_from_db()
    assert (typed.status, typed.provider_order_id) == ("completed", "PRV-9")
    assert (failed.status, failed.provider_order_id, failed.error_code) == ("failed", "", "settled_by_operator")


@pytest.mark.django_db
def test_settling_with_the_provider_order_of_another_order_is_refused(staff_client, api, customer, unknown_order):
    customer.oneclick_payment_methods.update(reference="approved")
    holder = buy(api, "k-holder", product="mug")
    assert holder.status == "completed" and holder.provider_order_id
    response = settle(
        staff_client, unknown_order, status="completed", provider_order_id=holder.provider_order_id, reason="looked"
    )
    assert response.status_code == 200
    assert notes(response) == [
        (
            "error",
            f"The order was not settled: provider order {holder.provider_order_id} already belongs to order "
            f'<a href="{ORDERS}{holder.pk}/change/">{holder.public_id}</a>.',
        )
    ]
    unknown_order.refresh_from_db()
    assert (unknown_order.status, unknown_order.provider_order_id) == ("unknown", "")
    assert not unknown_order.exchanges.filter(operation="settled_by_operator").exists()


@pytest.mark.django_db
def test_an_order_that_moved_while_the_operator_looked_is_not_settled(staff_client, unknown_order):
    page = staff_client.get(settle_url(unknown_order))
    seen = page.context["form"]["seen"].value()
    transition(unknown_order, "processing", provider_order_id="PRV-5")  # a refresh found it meanwhile
    response = staff_client.post(
        settle_url(unknown_order), {"seen": seen, "status": "failed", "reason": "not in the dashboard"}, follow=True
    )
    assert [level for level, _ in notes(response)] == ["warning"]
    assert "changed while you were looking at it (it is processing now)" in notes(response)[0][1]
    unknown_order.refresh_from_db()
    assert (unknown_order.status, unknown_order.provider_order_id) == ("processing", "PRV-5")
    assert not unknown_order.exchanges.filter(operation="settled_by_operator").exists()


@pytest.mark.django_db
def test_an_operator_cannot_settle_a_final_order(staff_client, api, customer):
    add_method(customer, "declined")
    order = buy(api, "k1")
    other = buy(api, "k2", product="mug")
    response = staff_client.post(ORDERS, {"action": "settle_by_hand", "_selected_action": [order.pk]}, follow=True)
    assert notes(response) == [("warning", "Only an unsettled order can be settled by hand, not a failed one.")]
    response = staff_client.post(
        settle_url(order), {"status": "completed", "provider_order_id": "P", "reason": "r"}, follow=True
    )
    assert notes(response) == [("warning", "Only an unsettled order can be settled by hand, not a failed one.")]
    response = staff_client.post(
        ORDERS, {"action": "settle_by_hand", "_selected_action": [order.pk, other.pk]}, follow=True
    )
    assert notes(response) == [("warning", "Select exactly one order to settle by hand.")]
    order.refresh_from_db()
    assert (order.status, order.provider_order_id) == ("failed", "")
    assert not order.exchanges.filter(operation="settled_by_operator").exists()


@pytest.fixture
def late_charged(api, customer):
    declined = add_method(customer, "declined", default=not customer.oneclick_payment_methods.exists())
    order = buy(api, "k1", payment_method=declined.pk)
    quiet = buy(api, "k2", product="mug", payment_method=declined.pk)
    assert order.status == quiet.status == "failed"
    assert flag_late_charge(order, "PRV-LATE", "the provider answered completed.")
    return order, quiet


@pytest.mark.django_db
def test_a_late_charge_shows_on_the_order_page_and_in_the_list(staff_client, late_charged):
    order, quiet = late_charged
    page = staff_client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    assert 'id="oneclick-late-charge"' in page and "(PRV-LATE)" in page
    assert f'href="{late_charge_url(order)}"' in page
    quiet_page = staff_client.get(f"{ORDERS}{quiet.pk}/change/").content.decode()
    assert 'id="oneclick-late-charge"' not in quiet_page and late_charge_url(quiet) not in quiet_page
    listing = staff_client.get(ORDERS).content.decode()
    assert "?late_charge__exact=1" in listing  # the filter is offered
    flagged = staff_client.get(f"{ORDERS}?late_charge__exact=1").content.decode()
    assert str(order.public_id) in flagged and str(quiet.public_id) not in flagged
    unflagged = staff_client.get(f"{ORDERS}?late_charge__exact=0").content.decode()
    assert str(quiet.public_id) in unflagged and str(order.public_id) not in unflagged


@pytest.mark.django_db
def test_acknowledging_a_late_charge_needs_a_reason_and_is_audited(staff_client, late_charged):
    order, _ = late_charged
    page = staff_client.get(late_charge_url(order)).content.decode()
    assert "the provider answered completed." in page  # what was reported
    response = staff_client.post(late_charge_url(order), {"reason": " "}, follow=True)
    assert notes(response) == [("error", "The late charge was not acknowledged: correct the errors below.")]
    order.refresh_from_db()
    assert order.late_charge
    response = staff_client.post(late_charge_url(order), {"reason": "Refunded PRV-LATE, ref RF-7."}, follow=True)
    assert notes(response) == [("success", "Late charge acknowledged.")]
    order.refresh_from_db()
    assert (order.late_charge, order.status) == (False, "failed")
    audit = order.exchanges.get(operation="late_charge_handled")
    assert audit.request == {"operator": "root", "reason": "Refunded PRV-LATE, ref RF-7."}
    assert 'id="oneclick-late-charge"' not in response.content.decode()
    again = staff_client.post(late_charge_url(order), {"reason": "twice"}, follow=True)
    assert notes(again) == [("warning", "This order has no late charge to acknowledge.")]


@pytest.mark.django_db
def test_the_operator_pages_refuse_non_staff_staff_without_change_permission_and_csrf_less_posts(
    client, customer, unknown_order, late_charged
):
    flagged, _ = late_charged
    client.force_login(customer)  # not staff
    for url in (settle_url(unknown_order), late_charge_url(flagged)):
        assert client.get(url).url.startswith("/admin/login/")
    response = client.post(settle_url(unknown_order), {"status": "failed", "reason": "r"})
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    client.post(late_charge_url(flagged), {"reason": "r"})

    viewer = get_user_model().objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_oneclickorder"))
    client.force_login(viewer)
    assert client.get(f"{ORDERS}{unknown_order.pk}/change/").status_code == 200
    assert settle_url(unknown_order) not in client.get(f"{ORDERS}{unknown_order.pk}/change/").content.decode()
    for url in (settle_url(unknown_order), late_charge_url(flagged)):
        assert client.get(url).status_code == 403
    assert client.post(settle_url(unknown_order), {"status": "failed", "reason": "r"}).status_code == 403
    assert client.post(late_charge_url(flagged), {"reason": "r"}).status_code == 403
    actions = client.get(ORDERS).content.decode()
    assert 'value="refresh_status"' in actions
    assert 'value="settle_by_hand"' not in actions and 'value="retry_as_new_order"' not in actions

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    assert strict.post(settle_url(unknown_order), {"status": "failed", "reason": "r"}).status_code == 403
    assert strict.post(late_charge_url(flagged), {"reason": "r"}).status_code == 403

    unknown_order.refresh_from_db()
    flagged.refresh_from_db()
    assert unknown_order.status == "unknown" and flagged.late_charge
    assert not unknown_order.exchanges.filter(operation="settled_by_operator").exists()
    assert not flagged.exchanges.filter(operation="late_charge_handled").exists()


@pytest.mark.django_db
def test_the_operator_pages_are_outside_atomic_requests(unknown_order):
    """Like the changelist: the order's signals (the shop's fulfilment) run on a committed order."""
    for url in (settle_url(unknown_order), late_charge_url(unknown_order)):
        assert "default" in getattr(resolve(url).func, "_non_atomic_requests", set())
