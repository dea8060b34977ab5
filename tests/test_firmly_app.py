"""The Firmly app: its card form and key view, that rendering a page calls nobody and writes
nothing, and that a shop without the ``firmly`` extra is told what to install."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from django_oneclick.orders import save_payment_method
from django_oneclick.providers import registry
from django_oneclick.testing.firmly import FirmlyFake
from tests.providers_helpers import buy, point_provider_at

pytestmark = pytest.mark.django_db

KEY_URL = "/oneclick/providers/oneclick_firmly/firmly/public-key/"


@pytest.fixture
def fake(settings):
    with FirmlyFake(stream_delay=0.01) as server:
        point_provider_at(settings, "firmly", server)
        yield server


@pytest.fixture
def signed_in(customer):
    client = Client()
    client.force_login(customer)
    return client


def key_requests(fake):
    return [r for r in fake.requests if r.path == "/api/v1/payment/key"]


def render(user, source):
    request = RequestFactory().get("/cards/")
    request.user = user
    return Template(source).render(Context({"request": request, "csrf_token": "csrf-abc"}))


# --- the card form ---------------------------------------------------------------------------


def test_the_card_form_points_its_script_at_the_key_view_and_its_inputs_cannot_be_submitted(customer, fake):
    html = render(customer, "{% load oneclick_firmly %}{% firmly_card_form next_url='/done/' %}")

    assert f'data-key-url="{KEY_URL}"' in html
    assert 'src="/static/oneclick_firmly/firmly-card.js"' in html
    assert 'data-api="/oneclick/api/payment-methods/"' in html
    assert 'data-next="/done/"' in html
    assert "unavailable" in html  # what the script says when the key cannot be had
    assert html.count("data-card=") == 5
    assert html.count(" name=") == 1  # only the CSRF token: the card inputs have no name
    assert 'value="csrf-abc"' in html
    assert fake.public_jwk()["n"] not in html


def test_the_card_form_of_a_provider_that_is_not_firmly_is_a_configuration_error(customer, fake):
    with pytest.raises(ImproperlyConfigured, match="not Firmly"):
        render(customer, "{% load oneclick_firmly %}{% firmly_card_form provider='sandbox' %}")


# --- the key view ----------------------------------------------------------------------------


def test_the_key_view_serves_firmlys_key_from_the_providers_cache(signed_in, fake):
    first, second = signed_in.get(KEY_URL), signed_in.get(KEY_URL)

    assert first.status_code == second.status_code == 200
    jwk = fake.public_jwk()
    assert first.json() == {"kid": fake.current_kid, "kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
    assert second.json() == first.json()
    assert len(key_requests(fake)) == 1  # cached by the provider (KEY_CACHE_SECONDS)
    assert "no-cache" in first["Cache-Control"]  # a browser never keeps a key the provider replaced


def test_the_key_view_answers_signed_in_customers_of_a_configured_firmly_only(client, signed_in, fake):
    assert client.get(KEY_URL).status_code == 403
    assert signed_in.get("/oneclick/providers/oneclick_firmly/nope/public-key/").status_code == 404
    assert signed_in.get("/oneclick/providers/oneclick_firmly/sandbox/public-key/").status_code == 404
    assert signed_in.post(KEY_URL).status_code == 405
    assert key_requests(fake) == []


def test_the_key_view_says_when_firmly_is_unreachable(signed_in, fake):
    fake.stop()

    response = signed_in.get(KEY_URL)

    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


# --- rendering calls nobody and writes nothing -----------------------------------------------


def test_rendering_the_button_and_the_card_form_calls_no_provider_and_writes_nothing(customer, fake, api):
    method = save_payment_method(customer, "firmly", fake.demo_method())
    fake.rotate_key()  # asking Firmly would now mark the card for re-entry
    registry.reset()  # no key cached

    with CaptureQueriesContext(connection) as queries:
        html = render(
            customer,
            "{% load oneclick oneclick_firmly %}{% oneclick_button 'book' %}{% firmly_card_form %}",
        )

    assert fake.requests == []
    assert queries.captured_queries, "the button reads the customer's method"
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
    assert 'action="/oneclick/buy/"' in html  # stored state alone: the card looks usable
    method.refresh_from_db()
    assert method.needs_reentry is False

    # The full check is made when the customer buys: the card must be entered again.
    response = buy(api)
    assert response.status_code == 400
    assert "entered again" in json.dumps(response.json())
    method.refresh_from_db()
    assert method.needs_reentry is True
    assert len(key_requests(fake)) == 1


# --- the optional dependency -----------------------------------------------------------------


@pytest.fixture
def without_jwcrypto(monkeypatch):
    """jwcrypto is not installed, and the Firmly package is imported afresh."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jwcrypto" else real(name, *a))
    monkeypatch.delitem(sys.modules, "django_oneclick.providers.firmly")


def test_firmly_without_its_extra_names_what_to_install_and_the_checks_report_it(settings, without_jwcrypto):
    providers = {**settings.ONECLICK["PROVIDERS"], "firmly": {"BACKEND": FirmlyFake.backend, "APP_ID": "a"}}
    settings.ONECLICK = {**settings.ONECLICK, "PROVIDERS": providers}

    with pytest.raises(ImproperlyConfigured, match=r'needs jwcrypto: pip install "django-oneclick\[firmly\]"'):
        registry.get_provider("firmly")
    (error,) = [m for m in checks.run_checks() if m.id == "django_oneclick.E004"]
    assert 'pip install "django-oneclick[firmly]"' in error.msg
    assert "Firmly" in error.msg
