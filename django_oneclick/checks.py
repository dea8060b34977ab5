"""System checks: a broken ONECLICK configuration is reported at start-up, not at the first sale."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_oneclick.conf import oneclick_settings
from django_oneclick.providers import registry


def _resolver_errors(setting: str, *, required: bool) -> list[CheckMessage]:
    path = getattr(oneclick_settings, setting)
    if not path:
        if not required:
            return []
        return [
            Error(
                f"ONECLICK[{setting!r}] is not set.",
                hint="Name the callable that turns a product reference into an Offer.",
                id="django_oneclick.E001",
            )
        ]
    try:
        target = import_string(path)
    except ImportError as exc:
        return [Error(f"ONECLICK[{setting!r}] = {path!r} cannot be imported: {exc}", id="django_oneclick.E002")]
    if not callable(target):
        return [Error(f"ONECLICK[{setting!r}] = {path!r} is not callable.", id="django_oneclick.E002")]
    return []


@register(Tags.compatibility)
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors = _resolver_errors("PRODUCT_RESOLVER", required=True)
    errors += _resolver_errors("BUYER_RESOLVER", required=False)
    providers = oneclick_settings.PROVIDERS
    if not isinstance(providers, dict) or not providers:
        return [*errors, Error("ONECLICK['PROVIDERS'] must name at least one provider.", id="django_oneclick.E003")]
    for name in providers:
        try:
            provider_cls = registry.provider_class(name)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), hint="Check the BACKEND path.", id="django_oneclick.E004"))
            continue
        provider = registry.get_provider(name)
        errors += provider.check()
        errors += _verdict_wait_errors(name, provider)
        if provider_cls.requires_buyer and not oneclick_settings.BUYER_RESOLVER:
            errors.append(
                Error(
                    f"Provider {name!r} ships goods and needs ONECLICK['BUYER_RESOLVER'].",
                    id="django_oneclick.E006",
                )
            )
    return errors


@register(Tags.compatibility)
def check_provider_apps(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A configured provider that ships a Django app (its views, templates, static files) needs
    that app installed, or its pages and template tags are missing at the first sale."""
    providers = oneclick_settings.PROVIDERS
    errors: list[CheckMessage] = []
    for name in providers if isinstance(providers, dict) else ():
        try:
            app = registry.provider_class(name).django_app
        except ImproperlyConfigured:
            continue  # reported by check_configuration (E004)
        if app and not apps.is_installed(app):
            errors.append(
                Error(
                    f"Provider {name!r} needs its Django app {app!r} in INSTALLED_APPS.",
                    hint=f'Add "{app}", to INSTALLED_APPS.',
                    id="django_oneclick.E010",
                )
            )
    return errors


def _verdict_wait_errors(name: str, provider: Any) -> list[CheckMessage]:
    """No verdict on an order while its purchase may still be in flight: the wait before a
    pending order counts as interrupted, and before a missing one counts as never placed, must
    both exceed the longest a purchase call can run (a late success would otherwise meet an
    order already settled ``failed``)."""
    longest = provider.purchase_timeout
    errors: list[CheckMessage] = []
    if longest >= oneclick_settings.STALE_PENDING_AFTER:
        errors.append(
            Error(
                f"ONECLICK['STALE_PENDING_AFTER'] ({oneclick_settings.STALE_PENDING_AFTER}) does not exceed the "
                f"longest purchase call of provider {name!r} ({longest}).",
                hint="Raise STALE_PENDING_AFTER, or lower the provider's timeouts.",
                id="django_oneclick.E007",
            )
        )
    if provider.not_found_after <= longest:
        errors.append(
            Error(
                f"ONECLICK['PROVIDERS'][{name!r}]['NOT_FOUND_AFTER'] ({provider.not_found_after}) does not exceed "
                f"its longest purchase call ({longest}).",
                hint="Raise NOT_FOUND_AFTER, or lower the provider's timeouts.",
                id="django_oneclick.E008",
            )
        )
    return errors


#: Cache backends whose ``incr`` is a read and a write: a rate limit counted there does not hold.
_NON_ATOMIC_CACHES = (
    "django.core.cache.backends.db.DatabaseCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.caches)
def check_throttle_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The rate limits count with the cache's ``incr``: it must be atomic (W001)."""
    alias = oneclick_settings.THROTTLE_CACHE
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if alias not in settings.CACHES:
        return [Error(f"ONECLICK['THROTTLE_CACHE'] names no cache: {alias!r}.", id="django_oneclick.E011")]
    if backend in _NON_ATOMIC_CACHES:
        return [
            CheckWarning(
                f"ONECLICK['THROTTLE_CACHE'] ({alias!r}) uses {backend.rsplit('.', 1)[-1]}, whose incr is not atomic: "
                "simultaneous purchases can pass the rate limit.",
                hint="Point THROTTLE_CACHE at Redis or Memcached (LocMemCache for a single process).",
                id="django_oneclick.W001",
            )
        ]
    return []
