"""Optional dependencies: each provider that needs a library beyond the core's declares it, so a
shop installs only what its providers use (``pip install "django-oneclick[twocheckout]"``)."""

from __future__ import annotations

import importlib.util

from django.core.exceptions import ImproperlyConfigured


def require(*modules: str, extra: str, provider: str) -> None:
    """Raise a clear :class:`ImproperlyConfigured` (reported by the system checks as E004) when
    ``provider`` is configured but a module of its extra is not installed."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ImproperlyConfigured(
            f"The {provider} provider needs {', '.join(missing)}: "
            f'pip install "django-oneclick[{extra}]" (or "django-oneclick[all]").'
        )
