from django.contrib import admin

from shop.models import Product, ShippingAddress

admin.site.register(Product, list_display=["title", "slug", "price", "currency"])
admin.site.register(ShippingAddress, list_display=["user", "city", "country"])
