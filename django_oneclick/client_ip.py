"""The customer's IP address as the shop sees it, without trusting a spoofable header."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from django_oneclick.conf import oneclick_settings


def client_ip(request: HttpRequest) -> str | None:
    """``REMOTE_ADDR``, or with ``TRUSTED_PROXY_COUNT = n`` the address the n-th proxy from us
    appended to ``X-Forwarded-For`` (entries further left are client-supplied and ignored)."""
    candidate = request.META.get("REMOTE_ADDR", "")
    proxies = int(oneclick_settings.TRUSTED_PROXY_COUNT)
    if proxies > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    # A zone ("fe80::1%eth0") is only meaningful on the proxy's host, and databases refuse it.
    return None if getattr(address, "scope_id", None) else str(address)
