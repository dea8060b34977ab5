"""Fake provider servers on 127.0.0.1, shipped so shops can test their integration offline.

``FAKES`` maps a provider name to its fake's dotted path; ``manage.py demo`` starts each one and
points the provider at it.
"""

FAKES: dict[str, str] = {
    "firmly": "django_oneclick.testing.firmly.FirmlyFake",
    "rye": "django_oneclick.testing.rye.RyeFake",
    "digitalriver": "django_oneclick.testing.digitalriver.DigitalRiverFake",
    "billerix": "django_oneclick.testing.billerix.BillerixFake",
    "twocheckout": "django_oneclick.testing.twocheckout.TwoCheckoutFake",
}
