from django.apps import AppConfig


class FirmlyConfig(AppConfig):
    name = "django_oneclick.providers.firmly"
    label = "oneclick_firmly"
    verbose_name = "One-click purchases: Firmly"
    #: Mounted by the core under ``providers/oneclick_firmly/`` (the key view of the card form).
    oneclick_urls = "django_oneclick.providers.firmly.urls"
