from django.http import Http404
from django.shortcuts import render

from tests.shop.offers import CATALOGUE


def product(request, reference):
    if reference not in CATALOGUE:
        raise Http404
    return render(request, "shop/product.html", {"product": reference, "offer": CATALOGUE[reference]})
