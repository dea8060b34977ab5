"""The Firmly card form in a real headless Chromium: the browser encrypts the card (WebCrypto)
and the shop's server only ever sees the JWE.

Skipped only when Chromium is missing on a developer's machine; with CI set, that is a failure.
"""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from django.apps import apps
from django.core import serializers
from django.core.handlers.base import BaseHandler
from django.http import HttpResponse
from django.template import engines
from django.test import Client
from django.urls import path
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from django_oneclick.models import PaymentMethod
from django_oneclick.orders import place_order
from django_oneclick.testing.firmly import FirmlyFake
from tests.urls import urlpatterns as shop_urlpatterns

CARD = {"name": "Ada Lovelace", "number": "4242 4242 4242 4242", "month": "7", "year": str(date.today().year + 2)}
CVV = "9731"
DIGITS = CARD["number"].replace(" ", "")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]


def card_page(request):
    """A shop page with the card form, as a shop's "add a card" page would have it."""
    page = "{% load oneclick_firmly %}<!doctype html><title>Cards</title>{% firmly_card_form %}"
    return HttpResponse(engines["django"].from_string(page).render({}, request))


urlpatterns = [path("cards/", card_page), *shop_urlpatterns]


@pytest.fixture
def fake(settings):
    with FirmlyFake(stream_delay=0.01) as server:
        providers = {
            **settings.ONECLICK["PROVIDERS"],
            "firmly": {"BACKEND": server.backend, **server.provider_options()},
        }
        settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": providers}
        yield server


@pytest.fixture
def received(monkeypatch):
    """Every request the shop's server handles: method, path, headers and body."""
    seen = []
    original = BaseHandler.get_response

    def recording(handler, request):
        headers = {key: value for key, value in request.META.items() if key.startswith("HTTP_")}
        seen.append(
            {"method": request.method, "path": request.get_full_path(), "headers": headers, "body": request.body}
        )
        return original(handler, request)

    monkeypatch.setattr(BaseHandler, "get_response", recording)
    return seen


def test_the_browser_encrypts_the_card_and_the_shop_only_gets_the_jwe(browser, live_server, customer, fake, received):
    session = Client()
    session.force_login(customer)
    browser.get(f"{live_server.url}/cards/")
    browser.add_cookie({"name": "sessionid", "value": session.cookies["sessionid"].value, "path": "/"})
    browser.get(f"{live_server.url}/cards/")

    fill = {"name": CARD["name"], "number": CARD["number"], "month": CARD["month"], "year": CARD["year"]}
    fill["verification_value"] = CVV
    for field, value in fill.items():
        browser.find_element(By.CSS_SELECTOR, f'[data-card="{field}"]').send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "form[data-firmly-card-form] button").click()
    status = browser.find_element(By.CSS_SELECTOR, "[data-card-status]")
    WebDriverWait(browser, 20).until(lambda _: status.text and not status.text.startswith("Encrypting"))

    assert status.text == "Saved: Visa •••• 4242."
    assert all(not e.get_attribute("value") for e in browser.find_elements(By.CSS_SELECTOR, "[data-card]"))
    method = PaymentMethod.objects.get(owner=customer, provider="firmly")
    assert method.label == "Visa •••• 4242"
    assert method.data == {"kid": fake.current_kid}
    assert method.expires.month == 7
    assert fake.decrypt_card(method.reference) == {
        "number": DIGITS,
        "name": CARD["name"],
        "verification_value": CVV,
        "month": "07",
        "year": CARD["year"],
    }

    (posted,) = [r for r in received if r["method"] == "POST"]
    assert posted["path"] == "/oneclick/api/payment-methods/"
    body = json.loads(posted["body"])
    assert body["provider"] == "firmly"
    assert set(body["data"]) == {"jwe", "kid", "brand", "last4", "exp_month", "exp_year"}
    assert body["data"]["jwe"] == method.reference
    without_jwe = json.dumps({**body["data"], "jwe": ""})
    for request in received:
        seen = json.dumps({**request, "body": request["body"].decode()})
        assert DIGITS not in seen and CARD["number"] not in seen
    assert CVV not in without_jwe and DIGITS[:12] not in without_jwe

    database = "".join(
        serializers.serialize("json", model.objects.all()) for model in apps.get_models() if model._meta.managed
    )
    assert DIGITS not in database and CARD["number"] not in database

    placed = place_order(user=customer, product="book", quantity=1, idempotency_key=str(uuid.uuid4()))
    assert placed.order.status == "completed"
    assert fake.orders[0]["payment_summary"]["last_four"] == "4242"
