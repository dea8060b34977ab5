"""schemathesis against the live example shop: every operation of the API's own OpenAPI schema,
signed in as demo/demo, with every check (server errors, status codes, content types, response
headers and bodies against the schema, schema-valid data accepted and schema-violating data refused,
authentication not ignored, stateful links between operations). Zero failures, zero errors.

Configured in tests/schemathesis.toml; bounded (``--max-examples``) to stay within about two minutes
on two cores. ``ONECLICK_SCHEMATHESIS_EXAMPLES`` raises the bound for a longer run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.test_example_project import ROOT, example_env, free_port

pytestmark = pytest.mark.schemathesis

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
MAX_EXAMPLES = int(os.environ.get("ONECLICK_SCHEMATHESIS_EXAMPLES", "25"))
SEED = int(os.environ.get("ONECLICK_SCHEMATHESIS_SEED", "20261202"))


@pytest.fixture
def fuzzed_shop(tmp_path):
    """The example shop as the demo command serves it, with its rate limits raised: a fuzzing run
    places hundreds of orders a minute, and a 429 would stop every request before the API reads
    it. (The limits themselves are tested in test_throttle.py.)"""
    port = free_port()
    env = {
        **example_env(tmp_path / "fuzz.sqlite3"),
        "ONECLICK_ORDER_THROTTLE_RATE": "100000/min",
        "ONECLICK_METHOD_THROTTLE_RATE": "100000/min",
    }
    log = (tmp_path / "shop.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "example_project/manage.py", "demo", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"demo exited early:\n{log.read()}")
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("demo did not serve within 90 s")
                time.sleep(0.3)
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def sign_in(base: str) -> tuple[str, str]:
    """demo/demo's session and CSRF token, as a browser gets them."""
    with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as browser:
        browser.get("/accounts/login/")
        browser.post(
            "/accounts/login/",
            data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        )
        assert "sessionid" in browser.cookies, "demo/demo could not sign in"
        return browser.cookies["sessionid"], browser.cookies["csrftoken"]


def test_schemathesis_finds_nothing_against_the_example_shop(fuzzed_shop, tmp_path, record_property):
    base, shop_log = fuzzed_shop
    session, csrf = sign_in(base)
    reports = tmp_path / "reports"
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(CONFIG),
        "run", f"{base}/oneclick/api/schema/?format=json",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "2",
        "--request-timeout", "30",
        "--generation-database", "none",
        # Harmless over HTTP; a same-origin Referer is what Django's CSRF check asks for over HTTPS.
        "--header", f"Referer: {base}/",
        "--report", "json,har",
        "--report-json-path", str(reports / "run.json"),
        "--report-har-path", str(reports / "requests.har"),
        "--no-color",
    ]  # fmt: skip
    env = {**os.environ, "ONECLICK_ST_SESSION": session, "ONECLICK_ST_CSRF": csrf}
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started
    output = run.stdout + run.stderr

    report = json.loads((reports / "run.json").read_text())
    entries = json.loads((reports / "requests.har").read_text())["log"]["entries"]
    statuses = Counter(entry["response"]["status"] for entry in entries)
    server_errors = [entry["request"]["url"] for entry in entries if entry["response"]["status"] >= 500]
    summary = (
        f"schemathesis {report['schemathesis_version']}: {len(entries)} requests on "
        f"{report['operations']['tested']} operations in {took:.0f} s; statuses {dict(sorted(statuses.items()))}; "
        f"{len(report['failures'])} failures, {len(report['errors'])} errors, {len(server_errors)} server errors"
    )
    print(summary)
    record_property("summary", summary)  # printed at the end of the run (tests/run_summaries.py)

    shop_log.seek(0)
    assert "Internal Server Error" not in shop_log.read(), "the shop logged a server error"
    assert not server_errors, f"{summary}\n{server_errors}"
    assert report["operations"]["tested"] == report["operations"]["total"] == 8, summary
    assert not report["failures"] and not report["errors"], f"{summary}\n{output}"
    assert run.returncode == 0, f"{summary}\n{output}"
