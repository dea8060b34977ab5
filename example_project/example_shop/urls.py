from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from shop import views

urlpatterns = [
    path("", views.product_list, name="product-list"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    path("orders/", views.my_orders, name="my-orders"),
    path("payment-methods/", views.payment_methods, name="payment-methods"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("oneclick/", include("django_oneclick.urls")),
    path("admin/", admin.site.urls),
]
