"""The Buy-now button as rendered HTML, the no-JavaScript purchase flow and the order pages."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, RequestContext, Template
from django.test import Client, RequestFactory
from django.utils import timezone

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.offers import Offer
from django_oneclick.templatetags.oneclick import oneclick_money, oneclick_safe_url
from tests.conftest import add_method
from tests.shop import offers

VOID_TAGS = {"input", "meta", "link", "br", "img", "hr"}
ORDER_URL = re.compile(r"^/oneclick/orders/([0-9a-f-]{36})/$")


class Page(HTMLParser):
    """The elements of a rendered page (tag, attributes, text inside), enough for assertions."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in VOID_TAGS:
            self._open.append(element)

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                return

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def all(self, tag: str, **attrs: str) -> list[dict]:
        return [
            e for e in self.elements
            if e["tag"] == tag and all(e["attrs"].get(k) == v for k, v in attrs.items())
        ]

    def one(self, tag: str, **attrs: str) -> dict:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def buy_forms(self) -> list[dict]:
        return self.all("form", action="/oneclick/buy/")

    def fields(self) -> dict[str, str]:
        """The hidden inputs of the page's only buy form."""
        assert len(self.buy_forms()) == 1
        return {e["attrs"]["name"]: e["attrs"].get("value", "") for e in self.all("input")}

    @property
    def text(self) -> str:
        return " ".join(" ".join(e["text"].split()) for e in self.elements if e["tag"] == "body")


def product_page(client: Client, reference: str = "book") -> Page:
    response = client.get(f"/products/{reference}/")
    assert response.status_code == 200
    return Page(response.content.decode())


def render_button(user, arguments: str = '"book"', **context) -> Page:
    request = RequestFactory().get("/products/book/?ref=mail")
    request.user = user or AnonymousUser()
    template = Template("{% load oneclick %}<body>{% oneclick_button " + arguments + " %}</body>")
    return Page(template.render(RequestContext(request, context)))


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer)
    return client


# --- the button in each state ---------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitor_gets_a_sign_in_link_with_the_price(client):
    page = product_page(client)
    assert page.buy_forms() == []
    link = page.one("a", href="/accounts/login/?next=/products/book/")
    assert link["text"] == "Sign in to buy now · €19.99"


@pytest.mark.django_db
def test_sign_in_link_follows_login_url_setting(client, settings):
    settings.LOGIN_URL = "/signin/"
    page = product_page(client, "lamp")
    assert page.one("a", href="/signin/?next=/products/lamp/")["text"] == "Sign in to buy now · $49.00"


@pytest.mark.django_db
def test_user_without_a_method_is_told_how_to_add_one(signed_in, settings):
    page = product_page(signed_in)
    assert page.buy_forms() == []
    assert "Add a payment method to your account first." in page.text
    assert page.all("a") == []

    settings.ONECLICK = {**settings.ONECLICK, "ADD_PAYMENT_METHOD_URL": "/wallet/add/"}
    page = product_page(signed_in)
    assert page.one("a", href="/wallet/add/")["text"] == "Add a payment method"


@pytest.mark.django_db
def test_a_method_that_is_not_the_default_is_not_used_silently(signed_in, customer):
    add_method(customer, "approved", default=False, label="Visa •••• 4242")
    page = product_page(signed_in)
    assert page.buy_forms() == []
    assert "needs a saved default payment method" in page.text


@pytest.mark.django_db
def test_default_method_gives_a_buy_form_with_price_and_method(signed_in, customer):
    method = add_method(customer, "approved", label="Visa •••• 4242")
    page = product_page(signed_in)

    button = page.one("button", type="submit")
    assert button["text"] == "Buy now · €19.99 · Visa •••• 4242"
    fields = page.fields()
    assert fields["product"] == "book"
    assert fields["quantity"] == "1"
    assert fields["payment_method"] == str(method.pk)
    assert uuid.UUID(fields["idempotency_key"]).version == 4
    assert fields["next"] == "/products/book/"
    assert len(fields["csrfmiddlewaretoken"]) >= 32
    form = page.buy_forms()[0]
    assert form["attrs"]["method"] == "post"
    assert form["attrs"]["data-oneclick-api"] == "/oneclick/api/orders/"
    status = page.one("p", role="status")
    assert status["attrs"]["aria-live"] == "polite"
    assert form["attrs"]["data-oneclick-status"] == status["attrs"]["id"]
    described = page.one("span", id=button["attrs"]["aria-describedby"])
    assert described["text"] == "A good book, charged at once to Visa •••• 4242"
    script = page.one("script", src="/static/django_oneclick/oneclick.js")
    assert "defer" in script["attrs"]

    assert product_page(signed_in).fields()["idempotency_key"] != fields["idempotency_key"]


@pytest.mark.django_db
def test_chosen_method_by_object_or_id(customer):
    add_method(customer, "approved", label="Visa •••• 4242")
    other = add_method(customer, "async", default=False, label="Mastercard •••• 5555")
    for argument in ({"method": other}, {"method": other.pk}, {"method": str(other.pk)}):
        page = render_button(customer, '"mug" payment_method=method', **argument)
        assert page.one("button")["text"] == "Buy now · €8.50 · Mastercard •••• 5555"
        assert page.fields()["payment_method"] == str(other.pk)


@pytest.mark.django_db
def test_another_users_method_is_never_shown_or_used(customer, other_customer):
    add_method(customer, "approved", label="Visa •••• 4242")
    theirs = add_method(other_customer, "approved", label="Amex •••• 0005")
    for argument in (theirs, theirs.pk):
        page = render_button(customer, '"book" payment_method=method', method=argument)
        assert page.buy_forms() == []
        assert "0005" not in page.text


@pytest.mark.django_db
def test_method_needing_reentry_says_so_and_is_no_buy_button(signed_in, customer, settings):
    add_method(customer, "approved", label="Visa •••• 4242", needs_reentry=True)
    page = product_page(signed_in)
    assert page.buy_forms() == []
    assert page.all("button") == []
    assert "Visa •••• 4242 must be entered again before you can buy with one click." in page.text

    settings.ONECLICK = {**settings.ONECLICK, "ADD_PAYMENT_METHOD_URL": "/wallet/add/"}
    page = product_page(signed_in)
    assert page.one("a", href="/wallet/add/")["text"] == "Enter Visa •••• 4242 again to buy now · €19.99"


@pytest.mark.django_db
def test_expired_method_must_be_entered_again(customer):
    add_method(customer, "approved", label="Visa •••• 4242", expires=timezone.localdate() - timedelta(days=1))
    page = render_button(customer)
    assert page.buy_forms() == []
    assert "must be entered again" in page.text


@pytest.mark.django_db
def test_method_of_a_provider_no_longer_configured_is_not_offered(customer):
    add_method(customer, "tok_1", provider="retired", label="Visa •••• 4242")
    assert render_button(customer).buy_forms() == []


# --- prices and arguments -------------------------------------------------------------------


@pytest.mark.django_db
def test_price_comes_from_the_resolver_and_quantity_multiplies_it(customer, monkeypatch):
    add_method(customer, "approved", label="Visa •••• 4242")
    monkeypatch.setitem(offers.CATALOGUE, "book", Offer("book", "A good book", Decimal("12.34"), "EUR"))
    page = render_button(customer, '"book" quantity=3')
    assert page.one("button")["text"] == "Buy now · €37.02 · Visa •••• 4242"
    assert page.fields()["quantity"] == "3"
    assert page.one("span")["text"] == "A good book, 3 items, charged at once to Visa •••• 4242"


def allowance_book(monkeypatch, allowance="2.00"):
    book = Offer("book", "A good book", Decimal("19.99"), "EUR", charges_allowance=Decimal(allowance))
    monkeypatch.setitem(offers.CATALOGUE, "book", book)


@pytest.mark.django_db
def test_an_allowance_for_shipping_and_tax_shows_the_most_the_customer_pays(customer, monkeypatch, settings):
    """A merchant that prices shipping and tax itself (Rye): the button shows the cap sent."""
    allowance_book(monkeypatch)
    assert render_button(None).one("a")["text"] == "Sign in to buy now · up to €21.99"
    method = add_method(customer, "approved", label="Visa •••• 4242")
    page = render_button(customer)
    assert page.one("button")["text"] == "Buy now · up to €21.99 · Visa •••• 4242"
    assert page.one("span")["text"] == (
        "A good book, €19.99 plus up to €2.00 for shipping and tax, charged at once to Visa •••• 4242"
    )
    page = render_button(customer, '"book" quantity=2')
    assert page.one("button")["text"] == "Buy now · up to €41.98 · Visa •••• 4242", "one allowance per order"

    settings.ONECLICK = {**settings.ONECLICK, "ADD_PAYMENT_METHOD_URL": "/wallet/add/"}
    method.needs_reentry = True
    method.save()
    assert render_button(customer).one("a")["text"] == "Enter Visa •••• 4242 again to buy now · up to €21.99"


@pytest.mark.django_db
def test_no_allowance_shows_the_plain_total(customer, monkeypatch):
    allowance_book(monkeypatch, "0")
    add_method(customer, "approved", label="Visa •••• 4242")
    page = render_button(customer)
    assert page.one("button")["text"] == "Buy now · €19.99 · Visa •••• 4242"
    assert page.one("span")["text"] == "A good book, charged at once to Visa •••• 4242"


@pytest.mark.django_db
def test_product_object_with_reference_attribute_or_pk(customer):
    add_method(customer, "approved", label="Visa")

    class Product:
        oneclick_reference = "lamp"
        pk = "book"

    class Row:
        pk = "mug"

    assert render_button(customer, "product", product=Product()).fields()["product"] == "lamp"
    assert render_button(customer, "product", product=Row()).fields()["product"] == "mug"


@pytest.mark.django_db
def test_unknown_product_is_not_offered(customer):
    add_method(customer, "approved")
    page = render_button(customer, '"no-such-thing"')
    assert page.buy_forms() == []
    assert "cannot be bought with one click" in page.text


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("19.99", "EUR", "€19.99"),
        ("49", "USD", "$49.00"),
        ("1234.5", "GBP", "£1,234.50"),
        ("1500", "JPY", "¥1,500"),
        ("19.99", "CHF", "19.99 CHF"),
    ],
)
def test_money_format(amount, currency, shown):
    assert oneclick_money(Decimal(amount), currency) == shown


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("/oneclick/providers/oneclick_sandbox/action/x/", True),
        ("https://pay.example/3ds?x=1", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,x", False),
        (None, False),
    ],
)
def test_action_links_are_only_http(url, kept):
    assert oneclick_safe_url(url) == (url if kept else "")


@pytest.mark.django_db
def test_missing_request_in_context_is_a_clear_error(customer):
    template = Template('{% load oneclick %}{% oneclick_button "book" %}')
    with pytest.raises(ImproperlyConfigured, match=r"context_processors\.request"):
        template.render(Context({"user": customer}))


@pytest.mark.django_db
def test_bad_quantity_argument_is_a_template_error(customer):
    from django.template import TemplateSyntaxError

    add_method(customer, "approved")
    with pytest.raises(TemplateSyntaxError, match="quantity must be a number from 1 to 20"):
        render_button(customer, '"book" quantity=0')


@pytest.mark.django_db
def test_script_and_stylesheet_come_once_per_page(customer):
    add_method(customer, "approved")
    page = render_button(customer, '"book" %}{% oneclick_button "mug"')
    assert len(page.buy_forms()) == 2
    assert len(page.all("script")) == 1
    assert len(page.all("link", rel="stylesheet")) == 1
    ids = [form["attrs"]["data-oneclick-status"] for form in page.buy_forms()]
    assert len(set(ids)) == 2


# --- the purchase without JavaScript --------------------------------------------------------


def submit(client: Client, fields: dict[str, str]):
    return client.post("/oneclick/buy/", fields)


@pytest.mark.django_db
def test_form_places_the_order_and_redirects_to_its_page(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    add_method(customer, "approved", label="Visa •••• 4242")
    fields = product_page(client).fields()

    response = submit(client, fields)
    assert response.status_code == 302
    public_id = ORDER_URL.match(response.url).group(1)
    order = OneClickOrder.objects.get()
    assert str(order.public_id) == public_id
    assert (order.status, order.total, order.product_reference) == ("completed", Decimal("19.99"), "book")

    page = Page(client.get(response.url).content.decode())
    assert "Status: Completed" in page.text
    assert "A good book" in page.text
    assert "€19.99" in page.text
    assert "Visa •••• 4242" in page.text
    assert order.provider_order_id in page.text
    assert page.all("meta", **{"http-equiv": "refresh"}) == []


@pytest.mark.django_db
def test_the_form_with_an_allowance_orders_up_to_the_amount_it_showed(signed_in, customer, monkeypatch):
    allowance_book(monkeypatch)
    add_method(customer, "approved", label="Visa •••• 4242")
    page = product_page(signed_in)
    assert page.one("button", type="submit")["text"] == "Buy now · up to €21.99 · Visa •••• 4242"
    submit(signed_in, page.fields())
    order = OneClickOrder.objects.get()
    assert (order.status, order.total, order.max_total) == ("completed", Decimal("19.99"), Decimal("21.99"))


@pytest.mark.django_db
def test_double_submit_of_one_form_is_one_order(signed_in, customer):
    add_method(customer, "approved")
    fields = product_page(signed_in).fields()
    first = submit(signed_in, fields)
    second = submit(signed_in, fields)
    assert first.url == second.url
    assert OneClickOrder.objects.count() == 1
    assert ProviderExchange.objects.filter(operation="purchase").count() == 1


@pytest.mark.django_db
def test_each_page_render_is_a_new_purchase(signed_in, customer):
    add_method(customer, "approved")
    first = submit(signed_in, product_page(signed_in).fields())
    second = submit(signed_in, product_page(signed_in).fields())
    assert first.url != second.url
    assert OneClickOrder.objects.count() == 2


@pytest.mark.django_db
def test_price_sent_by_the_client_is_ignored(signed_in, customer):
    add_method(customer, "approved")
    fields = {**product_page(signed_in).fields(), "price": "0.01", "total": "0.01", "quantity": "2"}
    submit(signed_in, fields)
    assert OneClickOrder.objects.get().total == Decimal("39.98")


@pytest.mark.django_db
def test_refused_form_goes_back_with_a_message(signed_in, customer):
    add_method(customer, "approved")
    fields = {**product_page(signed_in).fields(), "quantity": "999"}
    response = submit(signed_in, fields)
    assert response.url == "/products/book/"
    assert "Choose a quantity from 1 to 20." in product_page(signed_in).text
    assert not OneClickOrder.objects.exists()


@pytest.mark.django_db
def test_declined_order_page_shows_the_error(signed_in, customer):
    add_method(customer, "declined", label="Sandbox declined")
    response = submit(signed_in, product_page(signed_in).fields())
    page = Page(signed_in.get(response.url).content.decode())
    assert "Status: Failed" in page.text
    assert "The payment was declined. Please use another payment method." in page.text
    assert "Sandbox declined the payment" not in page.text  # the provider's detail is the operator's


@pytest.mark.django_db
def test_requires_action_page_links_to_the_confirmation_and_refreshes(signed_in, customer):
    add_method(customer, "requires_action")
    response = submit(signed_in, product_page(signed_in).fields())
    order = OneClickOrder.objects.get()
    page = Page(signed_in.get(response.url).content.decode())
    assert "Status: Requires action" in page.text
    action = f"/oneclick/providers/oneclick_sandbox/action/{order.public_id}/"
    assert page.one("a", href=action)["text"] == "Confirm the payment"
    assert page.one("meta", **{"http-equiv": "refresh"})

    sandbox_page = Page(signed_in.get(action).content.decode())
    assert "stand-in" in sandbox_page.text
    assert {b["attrs"]["value"] for b in sandbox_page.all("button", name="decision")} == {"confirm", "cancel"}

    confirmed = signed_in.post(action, {"decision": "confirm"})
    assert confirmed.url == response.url
    order.refresh_from_db()
    assert order.status == "completed"
    assert sandbox_page.all("form")
    assert Page(signed_in.get(action).content.decode()).all("form") == []


@pytest.mark.django_db
def test_sandbox_cancel_fails_the_order(signed_in, customer):
    add_method(customer, "requires_action")
    submit(signed_in, product_page(signed_in).fields())
    order = OneClickOrder.objects.get()
    signed_in.post(f"/oneclick/providers/oneclick_sandbox/action/{order.public_id}/", {"decision": "cancel"})
    page = Page(signed_in.get(f"/oneclick/orders/{order.public_id}/").content.decode())
    assert "Status: Failed" in page.text
    assert "You did not confirm the payment. Nothing was charged." in page.text  # the catalogue's words
    assert "The customer did not confirm" not in page.text  # the provider's, for the operator


@pytest.mark.django_db
def test_processing_order_page_refreshes_itself(signed_in, customer, settings):
    settings.ONECLICK = {
        **settings.ONECLICK,
        "PROVIDERS": {
            "sandbox": {"BACKEND": "django_oneclick.providers.sandbox.SandboxProvider", "ASYNC_SECONDS": 60}
        },
    }
    add_method(customer, "async")
    response = submit(signed_in, product_page(signed_in).fields())
    page = Page(signed_in.get(response.url).content.decode())
    assert "Status: Processing" in page.text
    assert page.one("meta", **{"http-equiv": "refresh"})["attrs"]["content"] == "2"


@pytest.mark.django_db
def test_another_users_order_page_is_404(client, customer, other_customer):
    add_method(customer, "requires_action")
    client.force_login(customer)
    submit(client, product_page(client).fields())
    order = OneClickOrder.objects.get()

    client.force_login(other_customer)
    assert client.get(f"/oneclick/orders/{order.public_id}/").status_code == 404
    action = f"/oneclick/providers/oneclick_sandbox/action/{order.public_id}/"
    assert client.get(action).status_code == 404
    assert client.post(action, {"decision": "cancel"}).status_code == 404
    order.refresh_from_db()
    assert order.status == "requires_action"

    client.logout()
    response = client.get(f"/oneclick/orders/{order.public_id}/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
