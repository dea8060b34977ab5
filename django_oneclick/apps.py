from django.apps import AppConfig


class OneClickConfig(AppConfig):
    name = "django_oneclick"
    label = "django_oneclick"
    verbose_name = "One-click purchases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Only wires the system checks and the settings-change receiver."""
        from django_oneclick import checks, conf  # noqa: F401
