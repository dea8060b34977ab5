from django.urls import path
from rest_framework.routers import SimpleRouter

from django_oneclick.api.schema import OneClickSchemaView
from django_oneclick.api.views import OrderViewSet, PaymentMethodViewSet

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("payment-methods", PaymentMethodViewSet, basename="payment-method")

urlpatterns = [
    # The OpenAPI 3 schema of the API (YAML; JSON with ?format=json).
    path("schema/", OneClickSchemaView.as_view(), name="schema"),
    *router.urls,
]
