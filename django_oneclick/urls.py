"""Mount with ``path("oneclick/", include("django_oneclick.urls"))``."""

from django.urls import include, path

from django_oneclick import views

app_name = "django_oneclick"

urlpatterns = [
    path("api/", include("django_oneclick.api.urls")),
    path("buy/", views.buy, name="buy"),
    path("orders/<uuid:public_id>/", views.order_detail, name="order"),
    path("sandbox/action/<uuid:order_id>/", views.sandbox_action, name="sandbox-action"),
]
