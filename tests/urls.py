from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oneclick/", include("django_oneclick.urls")),
    path("", include("tests.shop.urls")),
]
