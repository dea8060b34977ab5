"""The Firmly app's pages, mounted by the core under ``providers/oneclick_firmly/``; their names
are in the ``django_oneclick`` namespace."""

from django.urls import path

from django_oneclick.providers.firmly import views

urlpatterns = [
    path("<str:provider>/public-key/", views.public_key, name="firmly-public-key"),
]
