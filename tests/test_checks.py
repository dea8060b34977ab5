"""System checks turn a broken ONECLICK configuration into clear start-up errors."""

from dataclasses import dataclass

import pytest
from django.core.checks import run_checks

SANDBOX = {"BACKEND": "django_oneclick.providers.sandbox.SandboxProvider"}


def oneclick_errors():
    return {m.id: m.msg for m in run_checks() if m.id and m.id.startswith("django_oneclick.")}


def test_the_test_configuration_is_clean():
    assert oneclick_errors() == {}


def test_missing_product_resolver(settings):
    settings.ONECLICK = {"PROVIDERS": {"sandbox": SANDBOX}}
    assert "PRODUCT_RESOLVER" in oneclick_errors()["django_oneclick.E001"]


@pytest.mark.parametrize(
    "path", ["tests.shop.offers.nothing_here", "no.such.module.resolve", "tests.shop.offers.CATALOGUE"]
)
def test_bad_resolver_path(settings, path):
    settings.ONECLICK = {"PRODUCT_RESOLVER": path, "PROVIDERS": {"sandbox": SANDBOX}}
    assert path in oneclick_errors()["django_oneclick.E002"]


def test_unknown_provider_backend(settings):
    settings.ONECLICK = {
        "PRODUCT_RESOLVER": "tests.shop.offers.resolve",
        "PROVIDERS": {"acme": {"BACKEND": "django_oneclick.providers.acme.AcmeProvider"}},
    }
    assert "acme" in oneclick_errors()["django_oneclick.E004"]


def test_backend_that_is_not_a_provider(settings):
    settings.ONECLICK = {
        "PRODUCT_RESOLVER": "tests.shop.offers.resolve",
        "PROVIDERS": {"odd": {"BACKEND": "tests.shop.offers.resolve"}},
    }
    assert "not a Provider" in oneclick_errors()["django_oneclick.E004"]


def test_no_providers(settings):
    settings.ONECLICK = {"PRODUCT_RESOLVER": "tests.shop.offers.resolve", "PROVIDERS": {}}
    assert "django_oneclick.E003" in oneclick_errors()


def test_missing_credential_is_named(settings):
    from django_oneclick.providers.base import option
    from django_oneclick.providers.sandbox import SandboxOptions, SandboxProvider

    @dataclass(frozen=True)
    class NeedsKeyOptions(SandboxOptions):
        API_KEY: str = option(required=True, secret=True)

    class NeedsKey(SandboxProvider):
        options_class = NeedsKeyOptions

    import tests.shop.offers as module

    module.NeedsKey = NeedsKey
    try:
        settings.ONECLICK = {
            "PRODUCT_RESOLVER": "tests.shop.offers.resolve",
            "PROVIDERS": {"keyed": {"BACKEND": "tests.shop.offers.NeedsKey"}},
        }
        assert "'API_KEY'" in oneclick_errors()["django_oneclick.E005"]
    finally:
        del module.NeedsKey


def test_a_provider_whose_django_app_is_not_installed_is_named_with_the_line_to_add(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_oneclick.providers.sandbox"]

    (error,) = [m for m in run_checks() if m.id == "django_oneclick.E010"]

    assert "'sandbox'" in error.msg and "'django_oneclick.providers.sandbox'" in error.msg
    assert error.hint == 'Add "django_oneclick.providers.sandbox", to INSTALLED_APPS.'


def test_a_throttle_cache_without_an_atomic_incr_is_warned_about(settings):
    database_cache = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}
    settings.CACHES = {**settings.CACHES, "db": database_cache}
    settings.ONECLICK = {**settings.ONECLICK, "THROTTLE_CACHE": "db"}
    assert "not atomic" in oneclick_errors()["django_oneclick.W001"]

    settings.ONECLICK = {**settings.ONECLICK, "THROTTLE_CACHE": "nowhere"}
    assert "django_oneclick.E011" in oneclick_errors()

    settings.ONECLICK = {**settings.ONECLICK, "THROTTLE_CACHE": "default"}
    assert not {"django_oneclick.W001", "django_oneclick.E011"} & set(oneclick_errors())
