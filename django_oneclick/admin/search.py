"""The order list's search: an order id or its first characters (what the list shows), the
provider's order id, the customer's email address or username (or how it starts). Each term is a
condition an index serves: an id prefix is a range of the unique ``public_id`` index, the
provider's order id its index, a customer the owner's foreign key (the users are looked up first),
so it stays fast over a million orders."""

from __future__ import annotations

import re
import uuid

from django.contrib.auth import get_user_model
from django.db.models import Q

#: At least this many hex digits make an id prefix (the list shows 8).
MIN_PREFIX = 4
_HEX = re.compile(r"^[0-9a-f]+$")


def id_prefix_range(term: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The ids starting with ``term`` (with or without dashes) as an inclusive range, or None."""
    digits = term.strip().lower().replace("-", "")
    if not MIN_PREFIX <= len(digits) <= 32 or not _HEX.match(digits):
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


def order_search(term: str) -> Q:
    """Orders matching ``term`` (see the module's docstring)."""
    term = term.strip()
    condition = Q(provider_order_id=term)
    span = id_prefix_range(term)
    if span is not None:
        condition |= Q(public_id__gte=span[0], public_id__lte=span[1])
    user_model = get_user_model()
    names = {f.name for f in user_model._meta.get_fields()}
    who = Q(**{f"{user_model.USERNAME_FIELD}__istartswith": term})
    email = user_model.get_email_field_name()
    if email in names:
        who |= Q(**{f"{email}__istartswith": term})
    condition |= Q(owner__in=user_model._default_manager.filter(who).values("pk"))
    return condition
