from django.contrib.auth import views as auth_views
from django.urls import path

from tests.shop import views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("products/<str:reference>/", views.product, name="product"),
]
