"""The key view: Firmly's public key for the card form's script, so rendering the form calls
nobody. The key comes through the provider, which caches it for ``KEY_CACHE_SECONDS``; browsers
are told not to keep it, so a key the provider replaced (it rotates) never outlives it there."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from django_oneclick.providers.base import ProviderError
from django_oneclick.providers.firmly.provider import FirmlyProvider
from django_oneclick.providers.registry import configured_names, get_provider

UNAVAILABLE = "Card entry is unavailable right now. Please try again in a few minutes."


@require_GET
@never_cache
def public_key(request: HttpRequest, provider: str) -> JsonResponse:
    """Firmly's current public JWK (``kid``, ``kty``, ``n``, ``e``) for the Firmly provider named
    ``provider``: for signed-in customers only (who alone can save a card), so a stranger cannot
    make the shop call Firmly; 503 when Firmly cannot be reached."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Sign in to add a card."}, status=403)
    firmly = get_provider(provider) if provider in configured_names() else None
    if not isinstance(firmly, FirmlyProvider):
        return JsonResponse({"detail": f"No Firmly provider {provider!r}."}, status=404)
    try:
        key = firmly.public_key()
    except ProviderError:
        return JsonResponse({"detail": UNAVAILABLE}, status=503)
    return JsonResponse(key)
