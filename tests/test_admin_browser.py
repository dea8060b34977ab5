"""The operator's back office in a real headless Chromium against the live server, as an operator
uses it: the overview's figures (and its screenshot for the docs), a retry refused for an order the
customer cancelled, settling by hand that needs a reason, a purchase on a customer's behalf that
makes one order however often it is submitted, and a list that fits 1400 pixels.

Skipped only when Chromium is missing on a developer's machine; with CI set, that is a failure.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.orders import place_order
from tests.conftest import add_method
from tests.test_admin_overview import seed, seed_overview_set

WAIT_SECONDS = 20
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "admin-overview.png"
ORDERS = "/admin/django_oneclick/oneclickorder/"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


def sign_in(browser, live_server, path: str) -> None:
    browser.get(f"{live_server.url}/admin/login/?next={path}")
    browser.find_element(By.NAME, "username").send_keys("root")
    browser.find_element(By.NAME, "password").send_keys("pw")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda d: d.current_url.split("?")[0] == live_server.url + path)


def wait_for(browser, condition, message=""):
    return WebDriverWait(browser, WAIT_SECONDS).until(condition, message)


def messages(browser) -> list[tuple[str, str]]:
    return [
        (item.get_attribute("class"), item.text)
        for item in browser.find_elements(By.CSS_SELECTOR, "ul.messagelist li:not([id])")
    ]


def text(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text.strip()


def test_the_overview_shows_the_seeded_figures(csp_browser, live_server, operator, customer):
    browser = csp_browser.driver
    seed_overview_set(customer)  # the set test_admin_overview checks figure by figure
    sign_in(browser, live_server, "/admin/")
    browser.find_element(By.LINK_TEXT, "Overview").click()  # linked from the admin index
    wait_for(browser, lambda d: "One-click overview" in d.title)
    assert (text(browser, "oneclick-day-orders"), text(browser, "oneclick-week-orders")) == ("6", "10")
    assert (text(browser, "oneclick-day-success"), text(browser, "oneclick-week-success")) == ("80.0 %", "75.0 %")
    assert text(browser, "oneclick-day-revenue").split("\n") == ["60.00 EUR", "52.50 USD"]
    assert (text(browser, "oneclick-week-failed"), text(browser, "oneclick-week-processing")) == ("2", "1")
    cells = lambda row_id: [c.text for c in browser.find_elements(By.CSS_SELECTOR, f"#{row_id} td")]  # noqa: E731
    assert cells("oneclick-day-provider-sandbox") == ["4", "3", "1", "75.0 %", "200 ms", "400 ms"]
    assert cells("oneclick-week-provider-sandbox") == ["7", "5", "2", "71.4 %", "400 ms", "700 ms"]
    assert cells("oneclick-day-provider-rye") == ["2", "1", "0", "100.0 %", "1000 ms", "3000 ms"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#oneclick-attention tbody tr")
    assert [row.find_elements(By.TAG_NAME, "td")[-1].text for row in rows] == [
        "Late charge",
        "Outcome unknown, Background refresh gave up",
        "Stuck in processing",
        "Outcome unknown",
    ]
    # The charts are coloured by the stylesheet, under the strict policy, without any script.
    fill = browser.execute_script(
        "return getComputedStyle(document.querySelector('.oneclick-chart .oneclick-fill-completed')).fill"
    )
    assert fill == "rgb(46, 125, 50)"
    assert browser.execute_script("return document.querySelectorAll('[style]').length") == 0
    assert not csp_browser.read().violations
    rows[0].find_element(By.TAG_NAME, "a").click()  # each queued order links to its page
    wait_for(browser, lambda d: "/change/" in d.current_url)
    assert browser.find_element(By.ID, "oneclick-late-charge")


def test_screenshot_of_a_busy_week(browser, live_server, operator, customer):
    """A week of a shop with four providers: the page's totals are the seeded ones; the picture
    goes to docs/images/admin-overview.png."""
    rng = random.Random(7)
    providers = {"sandbox": 350, "rye": 900, "firmly": 1400, "billerix": 600}
    expected = {"orders": 0, "completed": 0, "failed": 0, "eur": Decimal(0)}
    for hour in range(0, 160, 2):
        for provider, latency in providers.items():
            if rng.random() < 0.45:
                continue
            status = rng.choices(["completed", "failed", "unknown", "processing"], [90, 8, 1, 1])[0]
            total = Decimal(rng.choice(["19.99", "8.50", "49.00", "120.00"]))
            seed(
                customer,
                hours_ago=hour + rng.random(),
                provider=provider,
                status=status,
                total=str(total),
                ms=int(rng.lognormvariate(0, 0.35) * latency),
            )
            if hour < 24 * 6:  # well inside the 7 days
                expected["orders"] += 1
                expected["completed"] += status == "completed"
                expected["failed"] += status == "failed"
                expected["eur"] += total if status == "completed" else 0
    seed(customer, hours_ago=300, status="failed", late_charge=True)
    browser.set_window_size(1400, 1500)
    sign_in(browser, live_server, "/admin/django_oneclick/oneclickoverview/")
    week = OneClickOrder.objects.filter(created_at__gte=browser_week_start(browser))
    assert int(text(browser, "oneclick-week-orders")) == week.count() >= expected["orders"]
    assert int(text(browser, "oneclick-week-completed")) == week.filter(status="completed").count()
    assert int(text(browser, "oneclick-week-failed")) == week.filter(status="failed").count()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, height + 140)  # the whole page, no scrollbar
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000


def browser_week_start(browser):
    """When the page's 7 days begin, as its count's link says."""
    from urllib.parse import parse_qs, urlsplit

    from django.utils.dateparse import parse_datetime

    href = browser.find_element(By.CSS_SELECTOR, "#oneclick-week-orders a").get_attribute("href")
    return parse_datetime(parse_qs(urlsplit(href).query)["created_at__gte"][0])


def test_a_retry_is_refused_for_an_order_the_customer_cancelled(browser, live_server, operator, customer):
    method = add_method(customer, "approved")
    cancelled = seed(customer, hours_ago=1, status="failed", error_code="action_declined")
    down = seed(customer, hours_ago=2, status="failed", error_code="provider_unavailable", product_reference="mug")
    browser.set_window_size(1400, 900)
    sign_in(browser, live_server, ORDERS)

    def run_action(*orders):
        for order in orders:
            browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{order.pk}']").click()
        Select(browser.find_element(By.NAME, "action")).select_by_value("retry_as_new_order")
        browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()

    run_action(cancelled)
    wait_for(browser, lambda d: messages(d))
    [(level, said)] = messages(browser)
    assert level == "warning"
    assert "the customer cancelled at the payment confirmation (code action_declined)" in said
    assert OneClickOrder.objects.count() == 2

    run_action(cancelled, down)  # a confirmation page: one to retry, one refused with its reason
    wait_for(browser, lambda d: "Retry failed orders as new orders" in d.title)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#oneclick-retryable tbody tr")) == 1
    assert "action_declined" in browser.find_element(By.ID, "oneclick-refused").text
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()  # without a reason
    wait_for(browser, lambda d: messages(d))
    assert messages(browser) == [("error", "Nothing was retried: say why.")]
    assert OneClickOrder.objects.count() == 2
    browser.find_element(By.NAME, "reason").send_keys("The customer asked on the phone.")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda d: d.current_url.endswith(ORDERS) and messages(d))
    [(level, said)] = messages(browser)
    retried = OneClickOrder.objects.get(retry_of=down)
    assert level == "success" and said.startswith(f"Retry of {str(down.public_id)[:8]} completed as order")
    assert (retried.status, retried.payment_method) == ("completed", method)
    assert not OneClickOrder.objects.filter(retry_of=cancelled).exists()


def test_settling_by_hand_requires_a_reason(browser, live_server, operator, customer):
    add_method(customer, "timeout")
    order = place_order(user=customer, product="book", quantity=1, idempotency_key="lost").order
    assert order.status == "unknown"
    sign_in(browser, live_server, f"{ORDERS}{order.pk}/change/")
    browser.find_element(By.CSS_SELECTOR, ".object-tools a[href$='/settle/']").click()  # "Settle by hand…"
    wait_for(browser, lambda d: d.current_url.endswith("/settle/"))
    browser.find_element(By.CSS_SELECTOR, "input[name=status][value=failed]").click()
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda d: messages(d))
    assert messages(browser) == [("error", "The order was not settled: correct the errors below.")]
    assert "This field is required." in browser.find_element(By.CSS_SELECTOR, ".field-reason").text
    order.refresh_from_db()
    assert order.status == "unknown" and not order.exchanges.filter(operation="settled_by_operator").exists()

    browser.find_element(By.CSS_SELECTOR, "input[name=status][value=failed]").click()
    browser.find_element(By.NAME, "reason").send_keys("Not in the sandbox's dashboard.")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda d: d.current_url.endswith(f"{order.pk}/change/"))
    assert messages(browser) == [("success", f"Order {order.public_id} marked failed.")]
    order.refresh_from_db()
    audit = order.exchanges.get(operation="settled_by_operator")
    assert order.status == "failed" and audit.request["operator"] == "root"


def test_buying_for_a_customer_makes_one_order_under_a_double_submit(browser, live_server, operator, customer):
    method = add_method(customer, "slow", label="Sandbox slow")  # the sandbox answers after 0.5 s
    sign_in(browser, live_server, f"/admin/auth/user/{customer.pk}/change/")
    assert "Sandbox slow" in browser.find_element(By.ID, "oneclick_payment_methods-group").text
    browser.find_element(By.ID, "oneclick-buy-for-customer").click()
    wait_for(browser, lambda d: "Buy for a customer" in d.title)
    browser.find_element(By.NAME, "product").send_keys("book")
    browser.find_element(By.CSS_SELECTOR, f"input[name=payment_method][value='{method.pk}']").click()
    browser.find_element(By.NAME, "reason").send_keys("Phone order, ticket 42")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda d: "Confirm the order" in d.title)
    assert "A good book (book)" in browser.find_element(By.ID, "oneclick-order-summary").text

    place = browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Place the order']")
    sent = browser.execute_script(  # what the page sends: to send it again below
        "return Array.from(arguments[0].form.elements).filter(e => e.name).map(e => [e.name, e.value])", place
    )
    ActionChains(browser).double_click(place).perform()
    wait_for(browser, lambda d: "/change/" in d.current_url and messages(d))
    # The first submit places the order (the sandbox takes 0.5 s); the second never makes another.
    wait_for(browser, lambda d: OneClickOrder.objects.get().status != "pending")
    order = OneClickOrder.objects.get()
    assert (order.owner, order.payment_method, order.status) == (customer, method, "completed")
    assert ProviderExchange.objects.filter(operation="purchase").count() == 1
    assert order.exchanges.get(operation="placed_by_operator").request["operator"] == "root"
    [(level, said)] = messages(browser)
    # The browser shows the last answer: the first submit's (completed), or the second's, sent while
    # the first was placing the order (it says so).
    assert (level, "completed for alice") in [(level, said[-len("completed for alice.") : -1])] or (
        level == "warning" and "This confirmation was submitted already" in said
    ), said

    # The same confirmation submitted once more (a form kept open in another tab, say): still one.
    browser.execute_script(
        """const form = document.createElement("form");
        form.method = "post"; form.action = arguments[1];
        for (const [name, value] of arguments[0]) {
          const input = document.createElement("input");
          input.type = "hidden"; input.name = name; input.value = value; form.append(input);
        }
        document.body.append(form); form.submit();""",
        sent,
        f"{live_server.url}{ORDERS}buy/",
    )
    wait_for(browser, lambda d: [m for m in messages(d) if "Already placed" in m[1]])
    [(level, said)] = messages(browser)
    assert level == "warning" and said.startswith("Already placed from this confirmation page")
    assert OneClickOrder.objects.count() == 1
    assert ProviderExchange.objects.filter(operation="purchase").count() == 1


def test_the_list_fits_1400_pixels(browser, live_server, operator, customer):
    add_method(customer, "approved")
    order = place_order(user=customer, product="book", quantity=1, idempotency_key="k1").order
    seed(
        customer,
        hours_ago=2,
        status="unknown",
        candidates=[{"provider_order_id": "SBX-1"}, {"provider_order_id": "SBX-2"}],
    )
    seed(customer, hours_ago=3, status="failed", late_charge=True, provider_order_id="SBX-LATE-0123456789")
    browser.set_window_size(1400, 900)
    sign_in(browser, live_server, ORDERS)
    short = browser.find_element(By.CSS_SELECTOR, "td.field-short_id_display code")
    assert short.text == str(order.public_id)[:8]
    line = browser.execute_script("return parseFloat(getComputedStyle(arguments[0]).lineHeight)", short)
    assert short.size["height"] <= line * 1.2  # one line
    provider_id = browser.find_element(By.CSS_SELECTOR, "td.field-provider_order_display code")
    assert provider_id.text == order.provider_order_id
    # Every column is in view: the table does not scroll sideways, nor does the page.
    results = browser.find_element(By.CSS_SELECTOR, "#changelist .results")
    assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", results)
    right = browser.execute_script("return arguments[0].getBoundingClientRect().right", provider_id)
    assert right <= browser.execute_script("return arguments[0].getBoundingClientRect().right", results)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    search = browser.find_element(By.ID, "searchbar")
    search.send_keys(str(order.public_id)[:8])
    search.submit()
    wait_for(browser, lambda d: "?q=" in d.current_url)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == 1
