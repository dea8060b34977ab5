"""A real headless Chromium (Debian's chromium + chromedriver) for the browser tests.

Without them the browser tests are skipped, unless the environment variable CI is set: then
they fail, so CI can never pass without having driven a real browser.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # This machine has no network but loopback: keep Chromium from reaching out.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--window-size=900,600",
]


def start_chromium(profile: str, *, logs: bool = False) -> webdriver.Chrome:
    """Chromium on a fresh profile; with ``logs``, its console and network logs can be read
    (``driver.get_log("browser")``, ``driver.get_log("performance")``)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]:
        options.add_argument(argument)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@contextmanager
def _chromium(*, logs: bool = False) -> Iterator[webdriver.Chrome]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        message = f"Browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)."
        if os.environ.get("CI"):
            pytest.fail(message + " CI is set, so this is a failure, not a skip.")
        pytest.skip(message)
    profile = tempfile.mkdtemp(prefix="oneclick-chromium-")
    driver = start_chromium(profile, logs=logs)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with _chromium() as driver:
        yield driver


#: Runs in every document before its own scripts (CDP ``Page.addScriptToEvaluateOnNewDocument``,
#: which no Content-Security-Policy restricts): each violation of the page's policy is written to
#: the console, next to Chromium's own message about it.
VIOLATION_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + JSON.stringify({
    directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile,
    line: event.lineNumber, sample: event.sample, page: document.location.href,
  }));
}, true);
"""


@dataclass
class CspWatch:
    """What a browser with logs saw: every CSP violation it reported, and every response the
    server gave (redirects included), with its headers."""

    driver: webdriver.Chrome
    violations: list[str] = field(default_factory=list)
    responses: list[dict] = field(default_factory=list)

    def read(self) -> CspWatch:
        """Take in the logs written since the last read (reading empties them)."""
        for entry in self.driver.get_log("browser"):
            message = entry["message"]
            if "CSP violation" in message or "Content Security Policy" in message:
                self.violations.append(message)
        for entry in self.driver.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            params = event.get("params", {})
            if event["method"] == "Network.responseReceived":
                response, kind = params["response"], params.get("type", "")
            elif event["method"] == "Network.requestWillBeSent" and "redirectResponse" in params:
                response, kind = params["redirectResponse"], "Redirect"
            else:
                continue
            headers = {name.lower(): value for name, value in response["headers"].items()}
            self.responses.append({"url": response["url"], "status": response["status"], "type": kind, **headers})
        return self


@pytest.fixture
def csp_browser() -> Iterator[CspWatch]:
    """A headless Chromium that reports Content-Security-Policy violations and response headers."""
    with _chromium(logs=True) as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": VIOLATION_LISTENER})
        yield CspWatch(driver)
