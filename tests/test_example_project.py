"""The README's first command, for real: the demo command sets up the example shop and serves
it; a customer signs in as demo/demo and buys with one click. Also: migrations are committed."""

import os
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def example_env(database):
    """The example shop's environment: its own settings and database, no provider credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONECLICK_") and k != "DJANGO_SETTINGS_MODULE"}
    return {**env, "DATABASE_URL": f"sqlite:///{database}", "PYTHONUNBUFFERED": "1"}


@pytest.mark.django_db
def test_package_migrations_are_committed():
    out = StringIO()
    call_command("makemigrations", "django_oneclick", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_example_shop_migrations_are_committed(tmp_path):
    result = subprocess.run(
        [sys.executable, "example_project/manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=example_env(tmp_path / "check.sqlite3"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def demo_shop(tmp_path):
    port = free_port()
    env = example_env(tmp_path / "demo.sqlite3")
    process = subprocess.Popen(
        [sys.executable, "example_project/manage.py", "demo", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"demo exited early:\n{process.stdout.read()}")
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("demo did not serve within 90 s")
    yield base
    process.terminate()
    try:
        output, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    assert "sign in as demo / demo" in output


def test_demo_serves_a_shop_where_demo_buys_with_one_click(demo_shop):
    with httpx.Client(base_url=demo_shop, follow_redirects=True, timeout=30) as browser:
        assert "Espresso cup" in browser.get("/").text
        browser.get("/accounts/login/")
        token = browser.cookies["csrftoken"]
        signed_in = browser.post(
            "/accounts/login/", data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token}
        )
        assert "Sign out" in signed_in.text
        product_page = browser.get("/products/espresso-cup/").text
        assert "Buy now" in product_page and "19.99" in product_page
        token = browser.cookies["csrftoken"]
        order = browser.post(
            "/oneclick/api/orders/",
            json={"product": "espresso-cup", "quantity": 1},
            headers={"X-CSRFToken": token, "Idempotency-Key": "demo-test-1", "Referer": demo_shop + "/"},
        )
        assert order.status_code == 201, order.text
        assert order.json()["status"] == "completed"
        assert order.json()["total"] == "19.99"
        assert "Espresso cup" in browser.get("/orders/").text
        # A hand-made form naming no method by number is turned away, never a server error.
        for method in ("abc", "١٢", "9" * 30):
            answer = browser.post(
                "/payment-methods/",
                data={"action": "default", "method": method, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            )
            assert answer.status_code == 200, answer.text


def test_demo_worker_settles_an_order_nobody_watches(demo_shop):
    """An asynchronous order is completed by the demo's background worker (db_worker), with no
    one reading the order: the "My orders" page does not ask the provider."""
    with httpx.Client(base_url=demo_shop, follow_redirects=True, timeout=30) as browser:
        browser.get("/accounts/login/")
        browser.post(
            "/accounts/login/",
            data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        )
        methods = browser.get("/oneclick/api/payment-methods/").json()
        later = next(m for m in methods if m["label"] == "Sandbox: completes a moment later")
        order = browser.post(
            "/oneclick/api/orders/",
            json={"product": "field-notes", "payment_method": later["id"]},
            headers={"X-CSRFToken": browser.cookies["csrftoken"], "Idempotency-Key": "demo-worker-1"},
        ).json()
        assert order["status"] == "processing"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listing = browser.get("/orders/").text
            row = listing.split(order["id"], 1)[1].split("</tr>", 1)[0]
            if "Completed" in row:
                break
            time.sleep(1)
        else:
            pytest.fail(f"the worker did not settle the order: {row}")


def test_demo_payment_methods_page_offers_the_firmly_card_form(demo_shop):
    with httpx.Client(base_url=demo_shop, follow_redirects=True, timeout=30) as browser:
        browser.get("/accounts/login/")
        browser.post(
            "/accounts/login/",
            data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        )
        page = browser.get("/payment-methods/").text
        assert "Add a card (Firmly)" in page
        assert "oneclick_firmly/firmly-card.js" in page
        key_url = page.split('data-key-url="', 1)[1].split('"', 1)[0]
        assert browser.get(key_url).json()["kty"] == "RSA"  # the script's key, from the fake Firmly
