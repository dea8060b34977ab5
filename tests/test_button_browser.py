"""The Buy-now button with its script, in a real headless Chromium against the live server.

Skipped only when Chromium is missing on a developer's machine; with CI set, a missing browser
is a failure.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from django_oneclick.models import OneClickOrder, ProviderExchange
from tests.conftest import add_method

SCREENSHOT = "/tmp/button.png"

WAIT_SECONDS = 20

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_and_open(browser, live_server, path: str = "/products/book/") -> None:
    browser.get(f"{live_server.url}/accounts/login/?next={path}")
    browser.find_element(By.NAME, "username").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys("pw")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.current_url == live_server.url + path)


def buy_button(browser):
    return browser.find_element(By.CSS_SELECTOR, "form[data-oneclick] button[type=submit]")


def live_region(browser):
    return browser.find_element(By.CSS_SELECTOR, "form[data-oneclick] [aria-live]")


def wait_for_status(browser, text: str):
    region = live_region(browser)
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: text in region.text, f"{text!r} never appeared; last status: {region.text!r}"
    )
    return region


def purchase_calls() -> int:
    return ProviderExchange.objects.filter(operation="purchase").count()


def test_buy_now_completes_in_place_with_one_order(browser, live_server, customer):
    add_method(customer, "approved", label="Visa •••• 4242")
    sign_in_and_open(browser, live_server)
    button = buy_button(browser)
    assert button.text == "Buy now · €19.99 · Visa •••• 4242"

    ActionChains(browser).double_click(button).perform()
    region = wait_for_status(browser, "Order completed: A good book × 1.")
    order = OneClickOrder.objects.get()
    link = region.find_element(By.LINK_TEXT, "View your order")
    link_target = f"{live_server.url}/oneclick/orders/{order.public_id}/"
    assert link.get_attribute("href") == link_target
    assert browser.current_url == f"{live_server.url}/products/book/"  # the script did it, no reload
    assert (order.status, purchase_calls()) == ("completed", 1)
    browser.save_screenshot(SCREENSHOT)

    link.click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.current_url == link_target)
    assert browser.find_element(By.CLASS_NAME, "oneclick-order-status").text == "Status: Completed"


def test_double_click_while_in_flight_sends_one_request(browser, live_server, customer):
    add_method(customer, "slow", label="Sandbox slow")  # the sandbox answers after 0.5 s
    sign_in_and_open(browser, live_server)
    button = buy_button(browser)
    ActionChains(browser).double_click(button).perform()
    wait_for_status(browser, "Placing your order…")
    assert not button.is_enabled()
    button.click()  # ignored: disabled
    browser.execute_script("arguments[0].requestSubmit()", browser.find_element(By.CSS_SELECTOR, "form[data-oneclick]"))
    wait_for_status(browser, "Order completed")
    assert button.is_enabled()
    assert OneClickOrder.objects.count() == 1
    assert purchase_calls() == 1


def test_retry_after_a_lost_answer_reuses_the_key_and_a_new_purchase_gets_a_new_one(
    browser, live_server, customer
):
    add_method(customer, "approved", label="Visa •••• 4242")
    sign_in_and_open(browser, live_server)
    # The first POST reaches the server (the order is placed) but its answer is lost.
    browser.execute_script(
        """
        const realFetch = window.fetch;
        window.sentKeys = [];
        let lost = false;
        window.fetch = (url, init) => {
          if (init && init.method === "POST") {
            window.sentKeys.push(init.headers["Idempotency-Key"]);
            if (!lost) {
              lost = true;
              return realFetch(url, init).then(() => { throw new TypeError("network down"); });
            }
          }
          return realFetch(url, init);
        };
        """
    )
    buy_button(browser).click()
    wait_for_status(browser, "could not be reached")
    assert OneClickOrder.objects.count() == 1

    buy_button(browser).click()
    wait_for_status(browser, "Order completed")
    assert OneClickOrder.objects.count() == 1
    assert purchase_calls() == 1

    buy_button(browser).click()  # after a final result: a new purchase
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: OneClickOrder.objects.count() == 2)
    wait_for_status(browser, "Order completed")
    first, again, new = browser.execute_script("return window.sentKeys")
    assert first == again != new
    assert {order.idempotency_key for order in OneClickOrder.objects.all()} == {first, new}


def test_async_order_shows_processing_then_completes_by_polling(browser, live_server, customer, settings):
    settings.ONECLICK = {
        **settings.ONECLICK,
        "PROVIDERS": {
            "sandbox": {"BACKEND": "django_oneclick.providers.sandbox.SandboxProvider", "ASYNC_SECONDS": 2.5}
        },
    }
    add_method(customer, "async", label="Sandbox async")
    sign_in_and_open(browser, live_server)
    buy_button(browser).click()
    wait_for_status(browser, "Processing your order…")
    assert OneClickOrder.objects.get().status == "processing"
    region = wait_for_status(browser, "Order completed")
    assert region.find_element(By.LINK_TEXT, "View your order")
    assert OneClickOrder.objects.get().status == "completed"
    assert purchase_calls() == 1
    assert ProviderExchange.objects.filter(operation="fetch_status").count() >= 1


def test_declined_payment_shows_the_error(browser, live_server, customer):
    add_method(customer, "declined", label="Sandbox declined")
    sign_in_and_open(browser, live_server)
    buy_button(browser).click()
    region = wait_for_status(browser, "Payment failed: The payment was declined. Please use another payment method.")
    assert region.find_element(By.LINK_TEXT, "View your order")
    assert OneClickOrder.objects.get().status == "failed"


def test_requires_action_links_to_the_confirmation(browser, live_server, customer):
    add_method(customer, "requires_action", label="Sandbox 3-D Secure")
    sign_in_and_open(browser, live_server)
    buy_button(browser).click()
    region = wait_for_status(browser, "Confirm the payment to finish your order")
    order = OneClickOrder.objects.get()
    link = region.find_element(By.LINK_TEXT, "Confirm the payment")
    action = f"/oneclick/providers/oneclick_sandbox/action/{order.public_id}/"
    assert link.get_attribute("href") == f"{live_server.url}{action}"

    link.click()
    browser.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.current_url == f"{live_server.url}/oneclick/orders/{order.public_id}/"
    )
    assert "Completed" in browser.find_element(By.CLASS_NAME, "oneclick-order-status").text
    order.refresh_from_db()
    assert order.status == "completed"


def test_field_errors_are_shown_readably(browser, live_server, customer):
    add_method(customer, "approved", label="Visa •••• 4242")
    sign_in_and_open(browser, live_server)
    browser.execute_script("document.querySelector('form[data-oneclick] [name=quantity]').value = '999'")
    buy_button(browser).click()
    wait_for_status(browser, "Quantity: Choose a quantity from 1 to 20.")
    assert buy_button(browser).is_enabled()
    assert not OneClickOrder.objects.exists()


def test_polling_is_bounded_and_ends_with_a_link_to_the_order(browser, live_server, customer, settings):
    settings.ONECLICK = {
        **settings.ONECLICK,
        "PROVIDERS": {
            "sandbox": {"BACKEND": "django_oneclick.providers.sandbox.SandboxProvider", "ASYNC_SECONDS": 600}
        },
    }
    add_method(customer, "async", label="Sandbox async")
    sign_in_and_open(browser, live_server)
    browser.execute_script(  # the script's one-second waits pass at once, and polls are counted
        """
        const realFetch = window.fetch;
        window.polls = 0;
        window.fetch = (url, init) => {
          if (!init || !init.method) window.polls += 1;
          return realFetch(url, init);
        };
        const realSetTimeout = window.setTimeout;
        window.setTimeout = (callback) => realSetTimeout(callback, 0);
        """
    )
    buy_button(browser).click()
    region = wait_for_status(browser, "Your order is still processing.")
    order = OneClickOrder.objects.get()
    link = region.find_element(By.LINK_TEXT, "See your order")
    assert link.get_attribute("href") == f"{live_server.url}/oneclick/orders/{order.public_id}/"
    polls = browser.execute_script("return window.polls")
    assert 10 <= polls <= 60
    assert order.status == "processing"
    assert buy_button(browser).is_enabled()
    buy_button(browser).click()  # pressing again follows the same order, never buys twice
    wait_for_status(browser, "Your order is still processing.")
    assert OneClickOrder.objects.count() == 1
    assert purchase_calls() == 1
