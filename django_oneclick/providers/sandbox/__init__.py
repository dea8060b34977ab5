"""The sandbox provider, a Django app (its action page): ``BACKEND`` is
``"django_oneclick.providers.sandbox.SandboxProvider"``, and ``"django_oneclick.providers.sandbox"``
goes in INSTALLED_APPS."""

from django_oneclick.providers.sandbox.provider import SandboxOptions, SandboxProvider
from django_oneclick.providers.sandbox.server import BEHAVIOURS

__all__ = ["BEHAVIOURS", "SandboxOptions", "SandboxProvider"]
