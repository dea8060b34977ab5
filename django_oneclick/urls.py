"""Mount with ``path("oneclick/", include("django_oneclick.urls"))``.

A provider's own pages come from its Django app: every installed app whose AppConfig names a
urls module in ``oneclick_urls`` is mounted under ``providers/<app label>/``, its URL names in
the ``django_oneclick`` namespace (e.g. ``django_oneclick:sandbox-action``).
"""

from django.apps import apps
from django.urls import include, path

from django_oneclick import views

app_name = "django_oneclick"

#: (app label, urls module) of every installed app that mounts provider pages.
_provider_apps = [(config.label, getattr(config, "oneclick_urls", "")) for config in apps.get_app_configs()]

urlpatterns = [
    path("api/", include("django_oneclick.api.urls")),
    path("buy/", views.buy, name="buy"),
    path("orders/<uuid:public_id>/", views.order_detail, name="order"),
    *(path(f"providers/{label}/", include(module)) for label, module in _provider_apps if module),
]
