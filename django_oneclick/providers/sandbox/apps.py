from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "django_oneclick.providers.sandbox"
    label = "oneclick_sandbox"
    verbose_name = "One-click sandbox provider"
    #: Mounted by django_oneclick.urls under providers/oneclick_sandbox/.
    oneclick_urls = "django_oneclick.providers.sandbox.urls"
