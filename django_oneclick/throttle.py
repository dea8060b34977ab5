"""A rate limit that holds under concurrency, for every path that spends money or saves a method.

DRF's throttles read the request history from the cache and write it back: forty simultaneous
purchases all read "none yet" and all pass. Here each request takes a slot with the cache's
atomic ``add`` and ``incr`` (a fixed window per user and scope), so at most the limit passes,
whichever process serves it. Use a cache whose ``incr`` is atomic and shared by all processes
(Redis, Memcached); ``ONECLICK["THROTTLE_CACHE"]`` names it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from django_oneclick.conf import oneclick_settings

_PERIODS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")

#: What the customer reads when a limit is reached (the API, the form and the button alike).
TOO_MANY = _("You have placed many orders in a short time. Please wait a moment and try again.")
TOO_MANY_METHODS = _("You have saved many payment methods in a short time. Please wait a while and try again.")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"20/min"``, ``"5/10s"``, ``"100/day"``."""
        match = _RATE.match(str(text).lower())
        if not match or match.group(3) not in _PERIODS:
            raise ImproperlyConfigured(f"{text!r} is not a rate like '20/min' or '5/10s'.")
        return cls(int(match.group(1)), int(match.group(2) or 1) * _PERIODS[match.group(3)])


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(str(TOO_MANY))
        self.retry_after = retry_after


def take(scope: str, user_id: object, rate: str) -> None:
    """Take one request from ``user_id``'s allowance in ``scope``, or raise :class:`RateLimited`
    with the seconds until the window ends."""
    limit = Rate.parse(rate)
    now = time.time()
    window = int(now // limit.seconds)
    key = f"django_oneclick:throttle:{scope}:{user_id}:{window}"
    cache = caches[oneclick_settings.THROTTLE_CACHE]
    cache.add(key, 0, timeout=limit.seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.add(key, 1, timeout=limit.seconds + 1)
        count = 1
    if count > limit.count:
        raise RateLimited(max(1, int((window + 1) * limit.seconds - now) + 1))
