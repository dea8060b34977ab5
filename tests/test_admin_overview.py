"""The one-click overview: its figures against a seeded set of orders, a fixed number of
queries however many orders there are, markup fit for a strict CSP, and who may see it."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from django_oneclick.admin.figures import QUERIES, nearest_rank, overview_figures
from django_oneclick.models import OneClickOrder, ProviderExchange
from tests.conftest import add_method

OVERVIEW = "/admin/django_oneclick/oneclickoverview/"
ORDERS = "/admin/django_oneclick/oneclickorder/"


@pytest.fixture
def staff_client(client, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def seed(
    customer, *, hours_ago, provider="sandbox", status="completed", total="10.00", currency="EUR", ms=None, **extra
):
    """An order placed ``hours_ago``, with its purchase call of ``ms`` milliseconds."""
    method = customer.oneclick_payment_methods.first() or add_method(customer, "approved")
    fields = {
        "owner": customer,
        "payment_method": method,
        "provider": provider,
        "product_reference": "book",
        "product_title": "A good book",
        "provider_product_id": "book",
        "quantity": 1,
        "unit_price": total,
        "total": total,
        "currency": currency,
        "status": status,
        "idempotency_key": f"seed-{OneClickOrder.objects.count()}",
        "request_fingerprint": "x",
    }
    order = OneClickOrder.objects.create(**{**fields, **extra})
    created = timezone.now() - timedelta(hours=hours_ago)
    OneClickOrder.objects.filter(pk=order.pk).update(created_at=created)
    if ms is not None:
        ProviderExchange.objects.create(
            order=order, provider=provider, operation="purchase", duration_ms=ms, outcome="ok"
        )
        ProviderExchange.objects.create(
            order=order, provider=provider, operation="fetch_status", duration_ms=9, outcome="ok"
        )
    order.refresh_from_db()
    return order


@pytest.fixture
def seeded(customer):
    return seed_overview_set(customer)


def seed_overview_set(customer):
    """Today: sandbox 3 completed and 1 failed, Rye 1 completed (charged 52.50 USD) and 1 unknown.
    Three days ago: sandbox 2 completed, 1 failed; Billerix 1 stuck processing. Ten days ago
    (outside both windows): 5 completed, an unknown order the refresh gave up on, a late charge."""
    orders = {
        "today": [
            seed(customer, hours_ago=1, total="10.00", ms=300),
            seed(customer, hours_ago=2, total="20.00", ms=100),
            seed(customer, hours_ago=3, total="30.00", ms=400),
            seed(customer, hours_ago=4, status="failed", error_code="declined", ms=200),
            seed(customer, hours_ago=5, provider="rye", total="49.00", currency="USD", charged_total="52.50", ms=3000),
            seed(customer, hours_ago=6, provider="rye", status="unknown", currency="USD", ms=1000),
        ],
        "days_ago": [
            seed(customer, hours_ago=72, total="5.00", ms=700),
            seed(customer, hours_ago=73, total="5.00", ms=500),
            seed(customer, hours_ago=74, status="failed", ms=600),
            seed(customer, hours_ago=75, provider="billerix", status="processing", ms=50),
        ],
        "old": [
            *(seed(customer, hours_ago=240 + i, ms=9000) for i in range(5)),
            seed(customer, hours_ago=250, status="unknown", error_code="refresh_gave_up"),
            seed(customer, hours_ago=260, status="failed", late_charge=True),
        ],
    }
    return orders


@pytest.mark.django_db
def test_the_figures_match_the_seeded_orders(seeded):
    figures = overview_figures()
    day, week = figures.tallies["day"], figures.tallies["week"]
    assert (day.by_status["completed"], day.by_status["failed"], day.by_status["unknown"], day.total) == (4, 1, 1, 6)
    assert day.success_rate == pytest.approx(80.0)
    assert (week.by_status["completed"], week.by_status["failed"], week.by_status["processing"], week.total) == (
        6,
        2,
        1,
        10,
    )
    assert week.success_rate == pytest.approx(75.0)
    assert figures.revenue == {
        "EUR": {"day": Decimal("60.00"), "week": Decimal("70.00")},
        "USD": {"day": Decimal("52.50"), "week": Decimal("52.50")},
    }
    providers = {p.name: p for p in figures.providers}
    assert set(providers) == {"billerix", "rye", "sandbox"}
    sandbox, rye = providers["sandbox"], providers["rye"]
    # Nearest rank: of 4 values the 2nd and the 4th, of 7 values the 4th and the 7th.
    assert (sandbox.latency["day"].purchases, sandbox.latency["day"].median_ms, sandbox.latency["day"].p95_ms) == (
        4,
        200,
        400,
    )
    assert (sandbox.latency["week"].median_ms, sandbox.latency["week"].p95_ms) == (400, 700)
    assert (rye.latency["day"].median_ms, rye.latency["day"].p95_ms) == (1000, 3000)
    assert rye.tallies["day"].success_rate == pytest.approx(100.0)  # the unknown one is not settled
    assert providers["billerix"].latency["day"] is None
    assert figures.attention_counts == {"unknown": 2, "gave_up": 1, "stuck": 1, "late_charge": 1}
    listed = [(item.order.pk, item.reasons) for item in figures.attention]
    old_unknown, late = seeded["old"][-2], seeded["old"][-1]
    assert listed == [
        (late.pk, ["late_charge"]),
        (old_unknown.pk, ["unknown", "gave_up"]),
        (seeded["days_ago"][-1].pk, ["stuck"]),
        (seeded["today"][-1].pk, ["unknown"]),
    ]
    assert sum(sum(counts.values()) for _, counts in figures.days) == week.total


@pytest.mark.parametrize(
    ("n", "median", "p95"), [(1, 1, 1), (2, 1, 2), (4, 2, 4), (7, 4, 7), (20, 10, 19), (100, 50, 95)]
)
def test_nearest_rank(n, median, p95):
    assert (nearest_rank(n, 50), nearest_rank(n, 95)) == (median, p95)


@pytest.mark.django_db
def test_the_page_shows_the_figures_each_linked_to_its_orders(staff_client, seeded):
    page = staff_client.get(OVERVIEW)
    assert page.status_code == 200
    html = page.content.decode()
    assert (figure(html, "oneclick-day-orders"), figure(html, "oneclick-week-orders")) == ("6", "10")
    assert figure(html, "oneclick-day-success") == "80.0 %" and figure(html, "oneclick-week-success") == "75.0 %"
    assert "60.00 EUR" in html and "52.50 USD" in html
    assert re.search(r"oneclick-day-provider-sandbox.*?>200 ms</td><td [^>]*>400 ms</td>", html, re.S)
    assert "Needs attention (5)" in html
    for order in [seeded["today"][-1], seeded["old"][-1]]:
        assert f'href="{ORDERS}{order.pk}/change/"' in html
    assert "status__exact=failed" in html and "created_at__gte=" in html
    # Each count links to the order list it counts: the list agrees.
    link = re.search(r'id="oneclick-week-failed"><a href="([^"]+)"', html).group(1).replace("&amp;", "&")
    listing = staff_client.get(link)
    assert listing.status_code == 200 and listing.context["cl"].result_count == 2
    assert html.count('<svg class="oneclick-chart') == 3 and "<title>" in html


def figure(html: str, id_: str) -> str:
    """The text of the figure ``id_`` (a dd or td), without its link."""
    cell = re.search(rf'id="{id_}">(.*?)</(?:dd|td)>', html, re.S).group(1)
    return re.sub(r"<[^>]+>", "", cell).strip()


def inline_markup(html: str) -> list[str]:
    patterns = [r"<script\b(?![^>]*\bsrc=)", r"<style\b", r"<[a-z][^<>]*\sstyle\s*=", r"<[a-z][^<>]*\son[a-z]+\s*="]
    return [m.group(0) for pattern in patterns for m in re.finditer(pattern, html, re.IGNORECASE)]


@pytest.mark.django_db
def test_the_page_has_no_inline_style_or_script(staff_client, seeded):
    html = staff_client.get(OVERVIEW).content.decode()
    assert inline_markup(html) == []
    assert "django_oneclick/overview.css" in html


@pytest.mark.django_db
def test_a_fixed_number_of_queries_however_many_orders(staff_client, customer, seeded, django_assert_max_num_queries):
    # The session and the user, then the figures: nothing per order, provider or day.
    with django_assert_max_num_queries(2 + QUERIES):
        assert staff_client.get(OVERVIEW).status_code == 200
    for provider in ("digitalriver", "firmly", "twocheckout"):
        for hours in range(0, 160, 8):
            seed(customer, hours_ago=hours, provider=provider, ms=hours)
            seed(customer, hours_ago=hours + 1, provider=provider, status="unknown")
    with django_assert_max_num_queries(2 + QUERIES):
        assert staff_client.get(OVERVIEW).status_code == 200
    with django_assert_max_num_queries(QUERIES):
        overview_figures()


@pytest.mark.django_db
def test_an_empty_shop(staff_client):
    html = staff_client.get(OVERVIEW).content.decode()
    assert "Nothing needs an operator." in html and "No orders." in html


@pytest.mark.django_db
def test_the_index_links_to_it_and_only_staff_who_may_view_orders_see_it(client, staff_client, customer):
    index = staff_client.get("/admin/").content.decode()
    assert f'href="{OVERVIEW}"' in index
    assert f'href="{OVERVIEW}"' in staff_client.get(ORDERS).content.decode()

    client.force_login(customer)  # not staff
    assert client.get(OVERVIEW).url.startswith("/admin/login/")
    clerk = get_user_model().objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_paymentmethod"))
    client.force_login(clerk)
    assert client.get(OVERVIEW).status_code == 403
    assert f'href="{OVERVIEW}"' not in client.get("/admin/").content.decode()
    clerk.user_permissions.add(Permission.objects.get(codename="view_oneclickorder"))
    clerk = get_user_model().objects.get(pk=clerk.pk)
    client.force_login(clerk)
    assert client.get(OVERVIEW).status_code == 200
    assert f'href="{OVERVIEW}"' in client.get("/admin/").content.decode()
