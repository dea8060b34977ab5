"""The example shop's production profile (example_shop.settings_production): Django's deployment
check passes with no warning, the secret and the hosts come from the environment, and what it
serves is HTTPS-only with the strict Content-Security-Policy."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

from tests.strict_csp import HEADER, assert_strict
from tests.test_example_project import ROOT, example_env

SETTINGS = "example_shop.settings_production"


@pytest.fixture
def production_env(tmp_path):
    return {
        **example_env(tmp_path / "production.sqlite3"),
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "SECRET_KEY": secrets.token_urlsafe(50),  # 67 random characters
        "ALLOWED_HOSTS": "shop.example.com,www.shop.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://shop.example.com",
    }


def manage(env: dict, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "example_project/manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def in_shop(env: dict, code: str) -> dict:
    """Run ``code`` with the shop's settings loaded; it prints one JSON value, returned here."""
    script = "import django, json, sys; sys.path.insert(0, 'example_project'); django.setup()\n" + code
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_deploy_check_passes_with_no_warning(production_env):
    result = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "ERRORS" not in output
    assert "System check identified no issues" in output


def test_the_base_settings_are_what_the_deploy_check_warns_about(production_env):
    """The development settings fail the same check: the profile is what makes it pass."""
    development = {**production_env, "DJANGO_SETTINGS_MODULE": "example_shop.settings"}
    del development["SECRET_KEY"]
    result = manage(development, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for warning in ("W004", "W008", "W009", "W012", "W016", "W018"):
        assert f"security.{warning}" in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_the_secret_and_the_hosts_have_no_default(production_env, missing):
    del production_env[missing]
    result = manage(production_env, "check", "--deploy")
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_the_profile_reads_the_environment(production_env):
    production_env.update(
        BEHIND_PROXY="true", CONN_MAX_AGE="120", THROTTLE_CACHE_URL="redis://cache.internal:6379/1"
    )
    seen = in_shop(
        production_env,
        """from django.conf import settings
print(json.dumps({
    "debug": settings.DEBUG,
    "secret": settings.SECRET_KEY,
    "hosts": settings.ALLOWED_HOSTS,
    "origins": settings.CSRF_TRUSTED_ORIGINS,
    "proxy": settings.SECURE_PROXY_SSL_HEADER,
    "conn": settings.DATABASES["default"]["CONN_MAX_AGE"],
    "throttle": settings.CACHES[settings.ONECLICK["THROTTLE_CACHE"]],
}))""",
    )
    assert seen["debug"] is False
    assert seen["secret"] == production_env["SECRET_KEY"]
    assert seen["hosts"] == ["shop.example.com", "www.shop.example.com"]
    assert seen["origins"] == ["https://shop.example.com"]
    assert seen["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert seen["conn"] == 120
    assert seen["throttle"]["BACKEND"].endswith("RedisCache")
    assert seen["throttle"]["LOCATION"] == "redis://cache.internal:6379/1"


def test_no_proxy_header_is_trusted_unless_told(production_env):
    code = "from django.conf import settings; print(json.dumps(settings.SECURE_PROXY_SSL_HEADER))"
    seen = in_shop(production_env, code)
    assert seen is None


def test_what_it_serves_is_https_only_under_the_strict_policy(production_env):
    seen = in_shop(
        production_env,
        """from django.test import Client
client = Client(HTTP_HOST="shop.example.com")
plain = client.get("/accounts/login/")
page = client.get("/accounts/login/", secure=True)
cookie = page.cookies["csrftoken"]
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "page": page.status_code,
    "headers": dict(page.headers),
    "cookie_secure": bool(cookie["secure"]),
}))""",
    )
    assert seen["plain"] == [301, "https://shop.example.com/accounts/login/"]
    assert seen["page"] == 200
    assert seen["headers"]["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert_strict(seen["headers"].get(HEADER), " on the production profile's sign-in page")
    assert seen["cookie_secure"] is True
