"""Builds providers from ``ONECLICK["PROVIDERS"]`` once per process and hands them out."""

from __future__ import annotations

import threading

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_oneclick.conf import oneclick_settings
from django_oneclick.providers.base import Provider

_providers: dict[str, Provider] = {}
_lock = threading.Lock()


def configured_names() -> list[str]:
    return list(oneclick_settings.PROVIDERS)


def provider_class(name: str) -> type[Provider]:
    try:
        options = oneclick_settings.PROVIDERS[name]
    except KeyError:
        raise ImproperlyConfigured(f"No provider {name!r} in ONECLICK['PROVIDERS'].") from None
    backend = options.get("BACKEND")
    if not backend:
        raise ImproperlyConfigured(f"ONECLICK['PROVIDERS'][{name!r}] has no 'BACKEND'.")
    try:
        cls = import_string(backend)
    except ImportError as exc:
        raise ImproperlyConfigured(f"Provider backend {backend!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ImproperlyConfigured(f"Provider backend {backend!r} is not a Provider subclass.")
    return cls


def get_provider(name: str) -> Provider:
    """The process-wide instance of provider ``name`` (it keeps its pooled connections)."""
    provider = _providers.get(name)
    if provider is None:
        with _lock:
            provider = _providers.get(name)
            if provider is None:
                cls = provider_class(name)
                options = dict(oneclick_settings.PROVIDERS[name])
                options.pop("BACKEND")
                provider = cls(name, options)
                _providers[name] = provider
    return provider


def reset() -> None:
    """Forget built providers (settings changed); their connections are closed."""
    with _lock:
        for provider in _providers.values():
            provider.close()
        _providers.clear()
