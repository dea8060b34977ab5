"""The sandbox's pages, mounted by ``django_oneclick.urls`` (names in its namespace)."""

from django.urls import path

from django_oneclick.providers.sandbox import views

urlpatterns = [
    path("action/<uuid:order_id>/", views.action, name="sandbox-action"),
]
