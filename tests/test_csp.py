"""The app's pages under a strict Content-Security-Policy: no template of the app, its providers'
apps, its admin or the example shop has an inline script, style or event handler, and every
response of the app's URLs (the customer's and the admin's) carries the policy the test settings
set. The browser's side: test_csp_browser.py."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import django
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import get_resolver, reverse

from django_oneclick.models import OneClickOrder
from django_oneclick.orders import flag_late_charge
from tests.conftest import add_method
from tests.strict_csp import HEADER, STRICT, assert_strict

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_oneclick"
#: Every template the app ships (its pages, the button, the admin's, the providers' apps) and the
#: example shop's.
TEMPLATES = sorted(
    [
        *(PACKAGE / "templates").rglob("*.html"),
        *PACKAGE.glob("providers/*/templates/**/*.html"),
        *(ROOT / "example_project").rglob("templates/**/*.html"),
    ]
)
#: What a strict policy refuses in markup: a script element without src, a style element, a style
#: attribute, an event handler attribute, a javascript: URL.
INLINE = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"<[a-z][^<>]*\sstyle\s*=", re.IGNORECASE),
    "event handler": re.compile(r"<[a-z][^<>]*\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}
#: The same in markup built in Python (whose code names "javascript:" URLs to refuse them).
MARKUP = {what: pattern for what, pattern in INLINE.items() if what != "javascript: URL"}
#: What a script must not do under it (string evaluation; markup that could carry handlers).
UNSAFE_JS = re.compile(r"\beval\(|new Function\(|\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write")


def inline_markup(text: str, patterns: dict[str, re.Pattern] = INLINE) -> list[str]:
    return [f"{what}: {match.group(0)!r}" for what, pattern in patterns.items() for match in pattern.finditer(text)]


def test_the_templates_have_no_inline_script_style_or_event_handler():
    assert any("admin" in path.parts for path in TEMPLATES) and any("providers" in path.parts for path in TEMPLATES)
    found = {str(path.relative_to(ROOT)): inline_markup(path.read_text()) for path in TEMPLATES}
    assert not {path: problems for path, problems in found.items() if problems}


def test_the_apps_python_writes_no_inline_style_or_script_into_pages():
    """Markup built in Python (the admin's columns, format_html) follows the same rule."""
    found = {
        str(path.relative_to(ROOT)): inline_markup(path.read_text(), MARKUP)
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert not {path: problems for path, problems in found.items() if problems}


def test_the_scripts_evaluate_no_strings_and_write_no_markup():
    scripts = sorted(PACKAGE.rglob("static/**/*.js"))
    assert len(scripts) >= 2
    found = {str(path.relative_to(ROOT)): UNSAFE_JS.findall(path.read_text()) for path in scripts}
    assert not {path: calls for path, calls in found.items() if calls}


def test_the_detectors_find_what_they_look_for():
    for bad in (
        "<script>alert(1)</script>",
        '<div style="color:red">',
        "<style>p {}</style>",
        '<button onclick="go()">',
        '<a href="javascript:go()">',
        "<script type='module'>x()</script>",
    ):
        assert inline_markup(bad), bad
    for fine in (
        '<script src="/static/a.js" defer></script>',
        '<link rel="stylesheet" href="a.css">',
        "{% block extrastyle %}",
    ):
        assert not inline_markup(fine), fine


def test_the_test_settings_send_the_strict_policy():
    directives = settings.SECURE_CSP if django.VERSION >= (6,) else settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert {name: set(sources) for name, sources in directives.items()} == STRICT


def buy(api, key: str, **body) -> OneClickOrder:
    answer = api.post("/oneclick/api/orders/", {"product": "book", **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert answer.status_code == 201, answer.content
    return OneClickOrder.objects.get(public_id=answer.json()["id"])


@pytest.fixture
def orders(api, customer):
    """An order waiting for the customer's confirmation (the sandbox's page, the settle page) and a
    failed one with a late charge (the late-charge page)."""
    add_method(customer, "requires_action")
    waiting = buy(api, "csp-waiting")
    declined = add_method(customer, "declined", default=False)
    failed = buy(api, "csp-failed", payment_method=declined.pk)
    assert flag_late_charge(failed, "PRV-LATE", "the provider answered completed.")
    assert (waiting.status, failed.status) == ("requires_action", "failed")
    return {"waiting": waiting, "late": failed, "method": declined}


def app_urls(orders: dict) -> dict[str, str]:
    """Every URL name in the app's namespace, reversed with an order or a method of the customer's.
    A new URL with an argument this does not know fails here, to be added."""
    _, resolver = get_resolver().namespace_dict["django_oneclick"]
    samples = {
        "public_id": orders["waiting"].public_id,
        "order_id": orders["waiting"].public_id,
        "provider": "sandbox",
    }
    urls = {}
    for name in (key for key in resolver.reverse_dict if isinstance(key, str)):
        params = resolver.reverse_dict.getlist(name)[0][0][0][1]
        kwargs = {}
        for param in params:
            if param in ("id", "pk"):  # the API's: an order's public id, a method's number
                kwargs[param] = orders["method" if name.startswith("payment-method") else "waiting"]
                kwargs[param] = getattr(kwargs[param], "public_id", kwargs[param].pk)
            else:
                assert param in samples, f"django_oneclick:{name} takes {param!r}: give it a sample value here"
                kwargs[param] = samples[param]
        urls[name] = reverse(f"django_oneclick:{name}", kwargs=kwargs)
    return urls


def admin_urls(orders: dict) -> dict[str, str]:
    """Every admin URL of the app's models (and any other page the app adds to the admin site)."""
    _, resolver = get_resolver().namespace_dict["admin"]
    urls = {}
    for name in (key for key in resolver.reverse_dict if isinstance(key, str) and key.startswith("django_oneclick")):
        params = resolver.reverse_dict.getlist(name)[0][0][0][1]
        args = []
        if params:
            assert params == ["object_id"], f"admin:{name} takes {params}: give it a sample value here"
            if "paymentmethod" in name:
                args = [orders["method"].pk]
            else:
                args = [(orders["late"] if name.endswith("late_charge") else orders["waiting"]).pk]
        urls[name] = reverse(f"admin:{name}", args=args)
    return urls


@pytest.mark.django_db
def test_every_response_of_the_apps_urls_carries_the_strict_policy(customer, orders):
    """As a browser asks (HTML first): the customer's pages, the API (its browsable pages too), the
    providers' pages, and the admin's pages of the app, GET and the forms' POSTs."""
    shopper = Client()
    shopper.force_login(customer)
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    browser_accept = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
    responses = {}
    for name, url in app_urls(orders).items():
        responses[f"django_oneclick:{name}"] = shopper.get(url, **browser_accept)
    for name, url in admin_urls(orders).items():
        responses[f"admin:{name}"] = staff.get(url, **browser_accept)
    waiting = orders["waiting"]
    responses["buy (POST)"] = shopper.post(
        reverse("django_oneclick:buy"), {"product": "mug", "idempotency_key": str(uuid.uuid4())}
    )
    responses["admin settle (POST)"] = staff.post(
        reverse("admin:django_oneclick_oneclickorder_settle", args=[waiting.pk]), {"status": "failed"}
    )
    action = reverse("django_oneclick:sandbox-action", kwargs={"order_id": waiting.public_id})
    responses["sandbox action (POST)"] = shopper.post(action, {"decision": "confirm"})
    responses["shop product page"] = shopper.get("/products/book/")
    responses["anonymous order page"] = Client().get(reverse("django_oneclick:order", args=[waiting.public_id]))

    for what, response in responses.items():
        assert response.status_code < 500, what
        assert_strict(response.headers.get(HEADER), f" on {what} ({response.status_code})")
    pages = {what for what, response in responses.items() if response.headers["Content-Type"].startswith("text/html")}
    assert {
        "django_oneclick:order",
        "django_oneclick:sandbox-action",
        "django_oneclick:order-list",
        "admin:django_oneclick_oneclickorder_changelist",
        "admin:django_oneclick_oneclickorder_change",
        "admin:django_oneclick_oneclickorder_settle",
        "admin:django_oneclick_oneclickorder_late_charge",
        "admin:django_oneclick_paymentmethod_changelist",
        "admin:django_oneclick_paymentmethod_change",
        "admin settle (POST)",
        "shop product page",
    } <= pages
    rendered = ["django_oneclick:order", "django_oneclick:sandbox-action", "admin:django_oneclick_oneclickorder_settle"]
    for page in rendered:
        assert responses[page].status_code == 200, page
        assert not inline_markup(responses[page].content.decode()), page
    assert OneClickOrder.objects.filter(pk=waiting.pk, status="completed").exists()  # the sandbox's POST did it
