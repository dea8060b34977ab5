"""A tiny catalogue for the tests, standing in for a shop's products."""

from decimal import Decimal

from django_oneclick.offers import Offer
from django_oneclick.providers.base import Buyer

CATALOGUE = {
    "book": Offer("book", "A good book", Decimal("19.99"), "EUR", {"digitalriver": "5321623900"}),
    "mug": Offer("mug", "A mug", Decimal("8.50"), "EUR"),
    "lamp": Offer("lamp", "A desk lamp", Decimal("49.00"), "USD"),
}


def resolve(reference):
    return CATALOGUE.get(reference)


def buyer(user):
    if not user.email:
        return None
    return Buyer(
        first_name=user.first_name or "Ada",
        last_name=user.last_name or "Lovelace",
        email=user.email,
        phone="+12125551234",
        address1="1 Main Street",
        city="New York",
        province="NY",
        postal_code="10001",
        country="US",
    )
