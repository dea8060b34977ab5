from rest_framework.routers import SimpleRouter

from django_oneclick.api.views import OrderViewSet, PaymentMethodViewSet

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("payment-methods", PaymentMethodViewSet, basename="payment-method")

urlpatterns = router.urls
