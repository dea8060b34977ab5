"""Settings of django-oneclick: one ``ONECLICK`` dict in the shop's settings, merged over defaults.

Read them through ``oneclick_settings.NAME``; the object follows ``override_settings`` in tests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # Dotted path to ``callable(reference: str) -> Offer | None``: the shop's price, never the client's.
    "PRODUCT_RESOLVER": None,
    # Dotted path to ``callable(user) -> Buyer | None``: name, email, phone and shipping
    # address, for providers that ship physical goods.
    "BUYER_RESOLVER": None,
    # Provider name -> options. ``BACKEND`` is the dotted path of the provider class; the other
    # keys are that provider's own options (credentials, BASE_URL, timeouts, ...).
    "PROVIDERS": {
        "sandbox": {"BACKEND": "django_oneclick.providers.sandbox.SandboxProvider"},
    },
    # Largest quantity one click may buy.
    "MAX_QUANTITY": 20,
    # Purchases one customer may place, by any path (API, form, admin on their behalf), e.g. "20/min".
    "ORDER_THROTTLE_RATE": "20/min",
    # Payment methods one customer may save.
    "METHOD_THROTTLE_RATE": "10/hour",
    # The cache alias the rate limits count in: atomic and shared by all processes (Redis, Memcached).
    "THROTTLE_CACHE": "default",
    # A pending order older than this was interrupted (crash, killed worker): its outcome is
    # unknown and it is reconciled with the provider instead of being sent again.
    "STALE_PENDING_AFTER": timedelta(minutes=5),
    # How often reading an unsettled order may ask the provider for its status.
    "STATUS_REFRESH_INTERVAL": timedelta(seconds=2),
    # Background refresh (django_oneclick.tasks): the wait before each further status check of
    # an unsettled order (the last wait repeats), and after how many checks an operator takes over.
    "REFRESH_BACKOFF": (
        timedelta(seconds=10),
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(hours=1),
    ),
    "REFRESH_MAX_ATTEMPTS": 30,
    # Days of provider exchanges `manage.py oneclick_prune_exchanges` keeps (orders are never pruned).
    "EXCHANGE_RETENTION_DAYS": 90,
    # Where the button sends a customer who has no saved payment method.
    "ADD_PAYMENT_METHOD_URL": None,
    # How many proxies in front of Django append to X-Forwarded-For (0: use REMOTE_ADDR).
    "TRUSTED_PROXY_COUNT": 0,
}


class OneClickSettings:
    """Attribute access to ``settings.ONECLICK`` merged over :data:`DEFAULTS`."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def _merged(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = {**DEFAULTS, **getattr(settings, "ONECLICK", {})}
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._merged[name]
        except KeyError:
            raise AttributeError(f"ONECLICK has no setting {name!r}") from None

    def reload(self) -> None:
        self._cache = None


oneclick_settings = OneClickSettings()


@receiver(setting_changed)
def _reload_on_change(setting: str, **kwargs: Any) -> None:
    if setting == "ONECLICK":
        oneclick_settings.reload()
        from django_oneclick.providers import registry

        registry.reset()
