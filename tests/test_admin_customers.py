"""Customer service in the admin: the order list (short ids, search), buying on a customer's
behalf exactly once, and the customer's methods and orders on the user's admin page."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Permission
from django.test import Client

from django_oneclick.admin.customers import CustomerOneClickMixin, add_customer_view
from django_oneclick.admin.on_behalf import KEY_PATTERN
from django_oneclick.models import OneClickOrder
from tests.conftest import add_method

ORDERS = "/admin/django_oneclick/oneclickorder/"
BUY = f"{ORDERS}buy/"


@pytest.fixture
def staff_client(client, db):
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)
    return client


def buy(api, key, product="book", **body):
    response = api.post("/oneclick/api/orders/", {"product": product, **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content
    return OneClickOrder.objects.get(public_id=response.json()["id"])


def notes(response):
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def results(client, query):
    return {order.pk for order in client.get(ORDERS, {"q": query}).context["cl"].result_list}


# --- the list -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_short_copyable_ids_and_the_provider_order_id(staff_client, api, customer):
    add_method(customer, "approved")
    order = buy(api, "k1")
    html = staff_client.get(ORDERS).content.decode()
    short = str(order.public_id)[:8]
    assert f'<code class="oneclick-id" title="{order.public_id}">{short}</code>' in html
    assert f'<code class="oneclick-id">{order.provider_order_id}</code>' in html
    assert f'href="{ORDERS}{order.pk}/change/' in html  # the date opens the order


@pytest.mark.django_db
def test_search_by_id_prefix_provider_order_id_and_customer(staff_client, api, customer, other_customer):
    add_method(customer, "approved")
    add_method(other_customer, "approved")
    mine, also_mine = buy(api, "k1"), buy(api, "k2", product="mug")
    api.force_authenticate(other_customer)
    theirs = buy(api, "k3")
    for query in (str(mine.public_id)[:8], str(mine.public_id), str(mine.public_id).upper(), mine.public_id.hex[:12]):
        assert results(staff_client, query) == {mine.pk}, query
    assert results(staff_client, mine.provider_order_id) == {mine.pk}
    assert results(staff_client, "alice@example.com") == {mine.pk, also_mine.pk}
    assert results(staff_client, "ALICE@") == {mine.pk, also_mine.pk}
    assert results(staff_client, "bob") == {theirs.pk}
    assert results(staff_client, "zzzzzz") == set()


# --- buying on a customer's behalf --------------------------------------------------------


def open_confirmation(client, customer, method, **data):
    """Find the customer, fill in the order, get the confirmation page, as an operator does."""
    found = client.get(BUY, {"q": customer.email[:5]})
    assert f'href="{BUY}?customer={customer.pk}"' in found.content.decode()
    form = client.get(BUY, {"customer": customer.pk})
    assert form.status_code == 200 and form.context["stage"] == "choose"
    fields = {"customer": customer.pk, "stage": "review", "product": "book", "quantity": 1}
    fields.update({"payment_method": method.pk, "reason": "Phone order, ticket 42", **data})
    return client.post(BUY, fields)


def confirm(client, page):
    """Submit the confirmation page as rendered: its hidden fields."""
    html = page.content.decode()
    form = html[html.index('<form method="post"') :]
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return client.post(BUY, data, follow=True)


@pytest.mark.django_db
def test_an_operator_buys_for_a_customer_once_however_often_the_page_is_submitted(staff_client, customer):
    method = add_method(customer, "approved", label="Visa •••• 4242")
    page = open_confirmation(staff_client, customer, method)
    assert page.context["stage"] == "confirm"
    html = page.content.decode()
    assert "A good book (book)" in html and "Visa •••• 4242" in html and "Phone order, ticket 42" in html
    key = page.context["form"]["key"].value()
    assert KEY_PATTERN.match(key)

    first = confirm(staff_client, page)
    order = OneClickOrder.objects.get()
    assert (order.owner, order.payment_method, order.status, order.idempotency_key) == (
        customer,
        method,
        "completed",
        key,
    )
    assert first.redirect_chain[-1][0] == f"{ORDERS}{order.pk}/change/"
    [(level, text)] = notes(first)
    assert level == "success" and "completed for alice" in text
    audit = order.exchanges.get(operation="placed_by_operator")
    assert audit.request == {"operator": "root", "reason": "Phone order, ticket 42"}
    assert list(order.exchanges.values_list("operation", flat=True)) == ["placed_by_operator", "purchase"]

    second = confirm(staff_client, page)  # the same page again: a double submit, the back button
    assert OneClickOrder.objects.count() == 1
    assert notes(second)[0][0] == "warning" and "Already placed from this confirmation page" in notes(second)[0][1]
    assert order.exchanges.filter(operation="purchase").count() == 1

    again = open_confirmation(staff_client, customer, method)  # a new page is a new order
    assert again.context["form"]["key"].value() != key
    confirm(staff_client, again)
    assert OneClickOrder.objects.count() == 2


@pytest.mark.django_db
def test_a_declined_order_is_an_error_and_bad_choices_are_refused(staff_client, customer, other_customer):
    declined = add_method(customer, "declined")
    theirs = add_method(other_customer, "approved")
    stale = add_method(customer, "approved", default=False, needs_reentry=True)

    refused = open_confirmation(staff_client, customer, theirs)  # not the customer's method
    assert refused.context["stage"] == "choose" and "payment_method" in refused.context["form"].errors
    refused = open_confirmation(staff_client, customer, stale)
    assert refused.context["form"].errors["payment_method"] == [
        "This payment method must be entered again by the customer."
    ]
    refused = open_confirmation(staff_client, customer, declined, product="nothing")
    assert refused.context["form"].errors["product"] == ["The shop's catalogue has no such product."]
    refused = open_confirmation(staff_client, customer, declined, reason=" ")
    assert "reason" in refused.context["form"].errors
    assert OneClickOrder.objects.count() == 0

    response = confirm(staff_client, open_confirmation(staff_client, customer, declined))
    order = OneClickOrder.objects.get()
    assert order.status == "failed"
    [(level, text)] = notes(response)
    assert level == "error" and "failed" in text


@pytest.mark.django_db
def test_a_tampered_key_places_nothing(staff_client, customer):
    method = add_method(customer, "approved")
    page = open_confirmation(staff_client, customer, method)
    html = page.content.decode().replace(page.context["form"]["key"].value(), "retry-of-someone-else")
    page.content = html.encode()
    response = confirm(staff_client, page)
    assert OneClickOrder.objects.count() == 0
    assert notes(response)[0] == ("error", "Nothing was ordered: correct the errors below.")


@pytest.mark.django_db
def test_only_staff_who_may_change_orders_buy_for_customers(client, customer):
    method = add_method(customer, "approved")
    viewer = get_user_model().objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_oneclickorder"))
    client.force_login(viewer)
    assert client.get(BUY, {"customer": customer.pk}).status_code == 403
    assert 'id="oneclick-buy-link"' not in client.get(ORDERS).content.decode()
    data = {"customer": customer.pk, "stage": "confirm", "product": "book", "quantity": 1}
    data.update(payment_method=method.pk, reason="r", key="operator-" + "a" * 32)
    assert client.post(BUY, data).status_code == 403
    client.force_login(customer)
    assert client.post(BUY, data).url.startswith("/admin/login/")
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(BUY, data).status_code == 403
    assert OneClickOrder.objects.count() == 0


# --- the customer's page ------------------------------------------------------------------


def user_page(customer):
    return f"/admin/auth/user/{customer.pk}/change/"


@pytest.mark.django_db
def test_the_users_page_shows_their_methods_and_orders_read_only_with_links(staff_client, api, customer):
    method = add_method(customer, "approved:tok_live_abcdef123456789", label="Visa •••• 4242")
    order = buy(api, "k1")
    html = staff_client.get(user_page(customer)).content.decode()
    assert "One-click payment methods" in html and "Visa •••• 4242" in html and "…6789" in html
    assert "tok_live_abcdef123456789" not in html
    assert str(order.public_id)[:8] in html and order.provider_order_id in html
    assert f'href="/admin/django_oneclick/paymentmethod/{method.pk}/change/"' in html
    assert f'href="{ORDERS}{order.pk}/change/"' in html
    assert f'href="{ORDERS}?owner__id__exact={customer.pk}"' in html
    assert f'href="{BUY}?customer={customer.pk}"' in html
    assert 'name="oneclick_orders-0-status"' not in html and 'name="oneclick_payment_methods-0-label"' not in html
    orders = staff_client.get(f"{ORDERS}?owner__id__exact={customer.pk}")
    assert [o.pk for o in orders.context["cl"].result_list] == [order.pk]


@pytest.mark.django_db
def test_saving_the_user_keeps_their_orders_and_methods(staff_client, api, customer):
    add_method(customer, "approved", label="Visa")
    buy(api, "k1")
    page = staff_client.get(user_page(customer))
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(username="alice", email="new@example.com", date_joined_0="2024-01-01", date_joined_1="10:00")
    data.pop("date_joined", None)
    data.pop("last_login", None)
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    response = staff_client.post(user_page(customer), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    customer.refresh_from_db()
    assert customer.email == "new@example.com"
    assert customer.oneclick_orders.count() == 1 and customer.oneclick_payment_methods.get().label == "Visa"


@pytest.mark.django_db
def test_a_shops_own_user_admin_keeps_working_with_the_inlines_added(customer):
    class ShopUserAdmin(UserAdmin):
        list_display = ["username", "email", "shop_flag"]

        @admin.display(description="Shop")
        def shop_flag(self, obj):
            return "shop"

    site = admin.AdminSite(name="shop_admin")
    site.register(get_user_model(), ShopUserAdmin)
    assert add_customer_view(site) is True
    extended = site._registry[get_user_model()]
    assert isinstance(extended, ShopUserAdmin) and isinstance(extended, CustomerOneClickMixin)
    assert type(extended).__name__ == "ShopUserAdmin" and extended.shop_flag(customer) == "shop"
    assert add_customer_view(site) is False  # once
    assert add_customer_view(admin.AdminSite(name="empty")) is False  # no user admin: none added
    assert isinstance(admin.site._registry[get_user_model()], CustomerOneClickMixin)  # the default site's
