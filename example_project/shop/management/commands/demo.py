"""Set up the example shop and serve it: ``python example_project/manage.py demo [addrport]``.

Idempotent: migrates, creates the user demo/demo, a few products and saved payment methods
(sandbox test methods, and one for each provider fake it starts on 127.0.0.1), starts the
background task worker (``db_worker``, which settles unsettled orders), then serves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string

from django_oneclick.conf import oneclick_settings
from django_oneclick.models import PaymentMethod
from django_oneclick.orders import save_payment_method
from django_oneclick.providers import registry
from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing import FAKES
from shop.models import Product, ShippingAddress

PRODUCTS = [
    ("field-notes", "Field notes, set of 3", "Pocket notebooks with a grid.", "12.90", "EUR"),
    ("espresso-cup", "Espresso cup", "Stoneware, 80 ml.", "19.99", "EUR"),
    ("desk-lamp", "Desk lamp", "Warm light, adjustable arm.", "49.00", "USD"),
]
SANDBOX_METHODS = [
    ("approved:visa", "Visa •••• 4242 (sandbox: approved)", "Visa", "4242"),
    ("async", "Sandbox: completes a moment later", "Sandbox", ""),
    ("requires_action", "Sandbox: asks for confirmation", "Sandbox", ""),
    ("declined", "Mastercard •••• 0002 (sandbox: declined)", "Mastercard", "0002"),
    ("timeout", "Sandbox: answer lost (outcome unknown)", "Sandbox", ""),
]


class Command(BaseCommand):
    help = "Migrate, create the demo user, products and payment methods, start the provider fakes, serve."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-fakes",
            action="store_true",
            help="Do not start the provider fakes (use the real providers configured in the environment).",
        )
        parser.add_argument("--no-worker", action="store_true", help="Do not start the background task worker.")
        parser.add_argument("--no-serve", action="store_true", help="Set everything up, then exit.")

    def handle(
        self, *args: Any, addrport: str, no_fakes: bool, no_worker: bool, no_serve: bool, **options: Any
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        fakes = {} if no_fakes else self.start_fakes()
        user = self.demo_user()
        self.products(fakes)
        self.sandbox_methods(user)
        for name, fake in fakes.items():
            self.replace_method(user, name, fake.demo_method())
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        self.stdout.write(
            self.style.SUCCESS(f"\nExample shop: http://{host}/   sign in as demo / demo   (admin: /admin/)\n")
            + f"Providers: {', '.join(oneclick_settings.PROVIDERS)}"
            + (f" (fakes on 127.0.0.1: {', '.join(fakes)})" if fakes else "")
        )
        worker = None if (no_serve or no_worker) else self.start_worker(fakes)
        # Stopped by SIGTERM as by Ctrl+C: the worker and the fakes are stopped with the shop.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            if not no_serve:
                call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
            for fake in fakes.values():
                fake.stop()

    def start_fakes(self) -> dict[str, Any]:
        """Start each provider's fake and point the provider at it."""
        fakes = {}
        for name, path in FAKES.items():
            fake = import_string(path)().start()
            settings.ONECLICK["PROVIDERS"][name] = {"BACKEND": fake.backend, **fake.provider_options()}
            fakes[name] = fake
        oneclick_settings.reload()
        registry.reset()
        return fakes

    def start_worker(self, fakes: dict[str, Any]) -> subprocess.Popen:
        """``manage.py db_worker`` in its own process, told where the fakes listen through the
        same ONECLICK_<PROVIDER>_<OPTION> variables a real deployment uses."""
        env = dict(os.environ)
        for name, fake in fakes.items():
            for option, value in fake.provider_options().items():
                env[f"ONECLICK_{name.upper()}_{option}"] = str(value)
        manage = Path(settings.BASE_DIR) / "manage.py"
        self.stdout.write("Background task worker: manage.py db_worker (settles processing and unknown orders)")
        command = [sys.executable, str(manage), "db_worker", "--interval", "1", "--no-reload"]
        return subprocess.Popen(command, env=env)  # noqa: S603 (our own interpreter and script)

    def demo_user(self) -> Any:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username="demo", defaults={"email": "demo@example.com", "first_name": "Dana", "last_name": "Demo"}
        )
        if created or not user.check_password("demo"):
            user.set_password("demo")
            user.is_staff = user.is_superuser = True
            user.save()
        ShippingAddress.objects.get_or_create(
            user=user,
            defaults={
                "first_name": "Dana",
                "last_name": "Demo",
                "phone": "+12125550100",
                "address1": "1 Demo Street",
                "city": "New York",
                "province": "NY",
                "postal_code": "10001",
                "country": "US",
            },
        )
        return user

    def products(self, fakes: dict[str, Any]) -> None:
        for slug, title, description, price, currency in PRODUCTS:
            ids = {name: fake.demo_product_id(slug) for name, fake in fakes.items() if hasattr(fake, "demo_product_id")}
            Product.objects.update_or_create(
                slug=slug,
                defaults={
                    "title": title,
                    "description": description,
                    "price": Decimal(price),
                    "currency": currency,
                    "provider_product_ids": ids,
                },
            )

    def sandbox_methods(self, user: Any) -> None:
        for reference, label, brand, last4 in SANDBOX_METHODS:
            if not PaymentMethod.objects.filter(owner=user, provider="sandbox", reference=reference).exists():
                save_payment_method(
                    user, "sandbox", MethodDetails(reference=reference, label=label, brand=brand, last4=last4)
                )

    def replace_method(self, user: Any, provider: str, details: MethodDetails) -> None:
        """A fake starts with fresh keys and orders, so its demo method is made anew each time."""
        PaymentMethod.objects.filter(owner=user, provider=provider).delete()
        save_payment_method(user, provider, details, make_default=False)
