"""Every page the example shop and the app serve, in a real headless Chromium, under the strict
Content-Security-Policy: each response carries it and the browser reports no violation while the
pages do their work (the button's script buys, the Firmly form encrypts a card, the admin's
scripts run, forms post).

The example shop runs as its README says (``manage.py demo``, its own settings: django-csp on
Django 5.2, Django's own middleware on Django 6). The app's own layout (its base template, which
the example replaces with its own) is driven under the test settings.

Skipped only when Chromium is missing on a developer's machine; with CI set, that is a failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import date
from urllib.parse import urlsplit

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from django_oneclick.models import OneClickOrder
from django_oneclick.orders import flag_late_charge, place_order
from tests.chromium import CspWatch
from tests.conftest import add_method
from tests.strict_csp import HEADER, assert_strict
from tests.test_example_project import ROOT, example_env, free_port

WAIT_SECONDS = 20

pytestmark = [pytest.mark.browser]


def page_responses(watch: CspWatch, origin: str) -> list[dict]:
    """The server's answers to the browser, less the static files (served as they are, by
    runserver's static handler here, by the web server in production: a policy on a script or a
    stylesheet file does nothing) and the browser's own favicon probe (a 404 that the DEBUG
    error page answers; the shop declares no icon)."""
    return [
        response
        for response in watch.read().responses
        if response["url"].startswith(origin)
        and not urlsplit(response["url"]).path.startswith(("/static/", "/favicon.ico"))
    ]


def check(watch: CspWatch, origin: str, seen: set[str]) -> None:
    """No violation so far; every response of the shop carries the strict policy."""
    time.sleep(0.2)  # console messages of the last page's scripts arrive asynchronously
    responses = page_responses(watch, origin)
    assert not watch.violations, "\n".join(watch.violations)
    for response in responses:
        assert_strict(response.get(HEADER.lower()), f" on {response['type']} {response['url']} ({response['status']})")
        seen.add(f"{response['type']} {urlsplit(response['url']).path}")


def wait_for_text(driver, css: str, text: str) -> None:
    """Until an element ``css`` shows ``text`` (on the page a click is loading, not the last one)."""
    WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: any(text in element.text for element in d.find_elements(By.CSS_SELECTOR, css)),
        f"{text!r} never appeared in {css}",
    )


def buy_with(driver, label: str):
    """Press the button that pays with the saved method ``label``; its status region."""
    for form in driver.find_elements(By.CSS_SELECTOR, "form[data-oneclick]"):
        button = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
        if label in button.text:
            button.click()
            return form.find_element(By.CSS_SELECTOR, "[aria-live]")
    pytest.fail(f"no Buy-now button for {label!r}")


@pytest.fixture
def example_shop(tmp_path):
    """``manage.py demo`` on a free port: the example's settings, its provider fakes, no task
    worker (an order waiting for its customer stays so for the admin's settle page)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "example_project/manage.py", "demo", f"127.0.0.1:{port}", "--no-worker"],
        cwd=ROOT,
        env=example_env(tmp_path / "csp.sqlite3"),
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
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def test_every_page_of_the_example_shop_works_under_the_strict_policy(csp_browser, example_shop):
    driver, shop, seen = csp_browser.driver, example_shop, set()
    driver.implicitly_wait(5)  # each element looked for on the page a click is loading

    # The shop, anonymous: products, a product with its sign-in link, the sign-in page.
    driver.get(f"{shop}/")
    driver.find_element(By.LINK_TEXT, "Espresso cup").click()
    driver.find_element(By.PARTIAL_LINK_TEXT, "Sign in to buy now").click()
    driver.find_element(By.NAME, "username").send_keys("demo")
    driver.find_element(By.NAME, "password").send_keys("demo")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.current_url == f"{shop}/products/espresso-cup/")
    check(csp_browser, shop, seen)

    # The button's script buys in place; its link leads to the order page.
    status = buy_with(driver, "sandbox: approved")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda _: "Order completed" in status.text, status.text)
    assert driver.current_url == f"{shop}/products/espresso-cup/"  # the script did it, no reload
    check(csp_browser, shop, seen)
    status.find_element(By.LINK_TEXT, "View your order").click()
    wait_for_text(driver, ".oneclick-order-status", "Completed")
    check(csp_browser, shop, seen)

    # A payment that needs the customer: the sandbox's confirmation page, then the order page
    # (it reloads itself while the order waits), from "My orders".
    driver.get(f"{shop}/products/field-notes/")
    status = buy_with(driver, "asks for confirmation")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda _: "Confirm the payment" in status.text, status.text)
    status.find_element(By.LINK_TEXT, "Confirm the payment").click()
    driver.find_element(By.CSS_SELECTOR, "button[value=confirm]")
    action_page = urlsplit(driver.current_url).path
    assert action_page.startswith("/oneclick/providers/oneclick_sandbox/action/")
    check(csp_browser, shop, seen)
    driver.find_element(By.LINK_TEXT, "My orders").click()
    waiting_id = action_page.rstrip("/").rsplit("/", 1)[1]
    driver.find_element(By.CSS_SELECTOR, f'a[href="/oneclick/orders/{waiting_id}/"]').click()
    wait_for_text(driver, ".oneclick-order-status", "Requires action")
    check(csp_browser, shop, seen)

    # Payment methods: a sandbox method added by a plain form, and a card through the Firmly form
    # (its script fetches Firmly's key from the shop, encrypts in the browser, posts the JWE).
    driver.get(f"{shop}/payment-methods/")
    driver.find_element(By.CSS_SELECTOR, "form select[name=reference]")
    driver.find_element(By.XPATH, "//form[.//select[@name='reference']]//button[@type='submit']").click()
    wait_for_text(driver, ".messages", "Payment method saved.")
    firmly_cards = len(driver.find_elements(By.XPATH, "//td[text()='firmly']"))
    card = {"name": "Ada Lovelace", "number": "4242 4242 4242 4242", "month": "7", "year": str(date.today().year + 2)}
    for field, value in {**card, "verification_value": "123"}.items():
        driver.find_element(By.CSS_SELECTOR, f'[data-card="{field}"]').send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "form[data-firmly-card-form] button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(  # saved, then the script went back to this page
        lambda d: len(d.find_elements(By.XPATH, "//td[text()='firmly']")) == firmly_cards + 1,
        "the Firmly card was not saved",
    )
    check(csp_browser, shop, seen)

    # The admin (demo is staff): the index, the orders with their filters and actions, the order
    # waiting for its customer, its settle page, settling it failed; the saved methods.
    driver.get(f"{shop}/admin/")
    driver.find_element(By.CSS_SELECTOR, '#content-main a[href="/admin/django_oneclick/oneclickorder/"]').click()
    driver.find_element(By.CSS_SELECTOR, "#changelist-filter")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == 2
    driver.find_element(By.ID, "searchbar").send_keys(waiting_id + Keys.ENTER)
    wait_for_text(driver, ".paginator", "1 ")
    driver.find_element(By.CSS_SELECTOR, '#result_list tbody tr a[href*="/change/"]').click()
    driver.find_element(By.CSS_SELECTOR, '.object-tools a[href$="/settle/"]').click()
    driver.find_element(By.CSS_SELECTOR, "input[name=status][value=failed]").click()
    driver.find_element(By.NAME, "reason").send_keys("Checked at the sandbox: no such order.")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for_text(driver, ".messagelist", "marked failed")
    check(csp_browser, shop, seen)
    driver.get(f"{shop}/admin/django_oneclick/paymentmethod/")
    driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr th a")[0].click()
    driver.find_element(By.CSS_SELECTOR, "#content-main")
    check(csp_browser, shop, seen)

    # Signing out is a form too.
    driver.get(f"{shop}/")
    driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
    driver.find_element(By.LINK_TEXT, "Sign in")
    check(csp_browser, shop, seen)

    pages = {entry for entry in seen if entry.startswith("Document ")}
    expected = [
        r"/",
        r"/products/espresso-cup/",
        r"/accounts/login/",
        r"/oneclick/orders/[0-9a-f-]+/",
        r"/oneclick/providers/oneclick_sandbox/action/[0-9a-f-]+/",
        r"/orders/",
        r"/payment-methods/",
        r"/admin/",
        r"/admin/django_oneclick/oneclickorder/",
        r"/admin/django_oneclick/oneclickorder/\d+/change/",
        r"/admin/django_oneclick/oneclickorder/\d+/settle/",
        r"/admin/django_oneclick/paymentmethod/",
        r"/admin/django_oneclick/paymentmethod/\d+/change/",
    ]
    for pattern in expected:
        assert any(re.fullmatch(f"Document {pattern}", page) for page in pages), f"{pattern} not seen in {pages}"
    for kind in ("Fetch", "Redirect"):  # the scripts' API calls; the forms' redirects
        assert any(entry.startswith(kind) for entry in seen), f"no {kind} response seen: {seen}"
    assert any(entry.startswith("Fetch /oneclick/providers/oneclick_firmly/") for entry in seen)


@pytest.mark.django_db(transaction=True)
def test_the_apps_own_layout_works_under_the_strict_policy(csp_browser, live_server, customer, django_user_model):
    """The test settings: the app's own base template around the order and the sandbox's page,
    the button on a bare shop page, and the admin's late-charge page."""
    driver, seen = csp_browser.driver, set()
    driver.implicitly_wait(5)
    add_method(customer, "requires_action", label="Sandbox 3-D Secure")
    driver.get(f"{live_server.url}/accounts/login/?next=/products/book/")
    driver.find_element(By.NAME, "username").send_keys("alice")
    driver.find_element(By.NAME, "password").send_keys("pw")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.current_url == f"{live_server.url}/products/book/")
    status = buy_with(driver, "Sandbox 3-D Secure")
    WebDriverWait(driver, WAIT_SECONDS).until(lambda _: "Confirm the payment" in status.text, status.text)
    status.find_element(By.LINK_TEXT, "Confirm the payment").click()
    driver.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()
    order = OneClickOrder.objects.get()
    wait_for_text(driver, ".oneclick-order-status", "Completed")
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("class") == "oneclick-page"  # the app's layout
    check(csp_browser, live_server.url, seen)

    declined = add_method(customer, "declined", default=False)
    failed = place_order(
        user=customer, product="mug", quantity=1, idempotency_key="csp-late", payment_method_id=declined.pk
    ).order
    assert flag_late_charge(failed, "PRV-LATE", "the provider answered completed.")
    django_user_model.objects.filter(pk=customer.pk).update(is_staff=True, is_superuser=True)
    driver.get(f"{live_server.url}/admin/django_oneclick/oneclickorder/{failed.pk}/change/")
    driver.find_element(By.CSS_SELECTOR, '.object-tools a[href$="/late-charge/"]').click()
    driver.find_element(By.NAME, "reason").send_keys("Refunded at the sandbox.")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for_text(driver, ".messagelist", "Late charge acknowledged.")
    check(csp_browser, live_server.url, seen)

    pages = {entry.split(" ", 1)[1] for entry in seen if entry.startswith("Document ")}
    assert {
        "/products/book/",
        f"/oneclick/providers/oneclick_sandbox/action/{order.public_id}/",
        f"/oneclick/orders/{order.public_id}/",
        f"/admin/django_oneclick/oneclickorder/{failed.pk}/change/",
        f"/admin/django_oneclick/oneclickorder/{failed.pk}/late-charge/",
    } <= pages


@pytest.mark.django_db(transaction=True)
def test_the_watch_sees_a_violation(csp_browser, live_server):
    """The detector works: a style attribute and an inline script, added by a page, are reported."""
    csp_browser.driver.get(f"{live_server.url}/accounts/login/")
    csp_browser.driver.execute_script(
        "document.body.setAttribute('style', 'color: red');"
        "const s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.append(s);"
    )
    time.sleep(0.2)
    violations = csp_browser.read().violations
    assert any("style-src-attr" in message for message in violations), violations
    assert any("script-src-elem" in message for message in violations), violations
    assert csp_browser.driver.execute_script("return window.ran") is None
