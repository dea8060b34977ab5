from django.apps import AppConfig, apps


class OneClickConfig(AppConfig):
    name = "django_oneclick"
    label = "django_oneclick"
    verbose_name = "One-click purchases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Wires the system checks and the settings-change receiver, and adds the customer's
        one-click methods and orders to the user's admin page (after the admin's autodiscovery,
        which ``django.contrib.admin``, listed before this app, ran in its own ``ready()``)."""
        from django_oneclick import checks, conf  # noqa: F401

        if apps.is_installed("django.contrib.admin"):
            from django_oneclick.admin.customers import add_customer_view

            add_customer_view()
