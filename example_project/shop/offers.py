"""The resolvers named in settings.ONECLICK: the shop's prices and addresses, read on the server."""

from django_oneclick.offers import Offer
from django_oneclick.providers.base import Buyer
from shop.models import Product, ShippingAddress


def offer_for(reference: str) -> Offer | None:
    product = Product.objects.filter(slug=reference).first()
    if product is None:
        return None
    return Offer(
        reference=product.slug,
        title=product.title,
        unit_price=product.price,
        currency=product.currency,
        provider_product_ids=product.provider_product_ids,
    )


def buyer_for(user) -> Buyer | None:
    address = ShippingAddress.objects.filter(user=user).first()
    if address is None:
        return None
    return Buyer(
        first_name=address.first_name,
        last_name=address.last_name,
        email=user.email,
        phone=address.phone,
        address1=address.address1,
        address2=address.address2,
        city=address.city,
        province=address.province,
        postal_code=address.postal_code,
        country=address.country,
    )
