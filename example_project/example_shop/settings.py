"""Settings of the example shop, read from the environment with django-environ.

With no environment at all it runs on SQLite with the sandbox provider. Each real provider is
configured by variables named ``ONECLICK_<PROVIDER>_<OPTION>``, e.g. ``ONECLICK_BILLERIX_SECRET_KEY``
becomes ``ONECLICK["PROVIDERS"]["billerix"]["SECRET_KEY"]``.
"""

import os
from pathlib import Path

import django
import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="example-shop-not-for-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "shop",  # first, so its templates override the app's base template
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_tasks_db",
    "django_oneclick",
    "django_oneclick.providers.sandbox",
    "django_oneclick.providers.firmly",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
#: A strict Content-Security-Policy on every page: scripts and styles only from the shop's own
#: static files (no inline script, style or event handler anywhere), fetches only to the shop.
#: Django 6 sends it with its own middleware; on Django 5.2 django-csp does (the example extra).
STRICT_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}
if django.VERSION >= (6,):
    MIDDLEWARE.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")
    SECURE_CSP = STRICT_CSP
else:
    MIDDLEWARE.insert(1, "csp.middleware.CSPMiddleware")
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": STRICT_CSP}  # django-csp 4's format
ROOT_URLCONF = "example_shop.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "example_shop.wsgi.application"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The shop and its task worker are two processes writing one SQLite file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL;", transaction_mode="IMMEDIATE", timeout=20
    )
# Shared by every process (web, task worker): the sandbox keeps its provider-side state here.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "oneclick_cache"},
    # The rate limits need an atomic incr; the demo serves from one process, so memory will do.
    "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "oneclick-throttle"},
}
# Background status refresh: the database-backed worker (`manage.py db_worker`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

PROVIDER_BACKENDS = {
    "sandbox": "django_oneclick.providers.sandbox.SandboxProvider",
    "digitalriver": "django_oneclick.providers.digitalriver.DigitalRiverProvider",
    "billerix": "django_oneclick.providers.billerix.BillerixProvider",
    "twocheckout": "django_oneclick.providers.twocheckout.TwoCheckoutProvider",
    "rye": "django_oneclick.providers.rye.RyeProvider",
    "firmly": "django_oneclick.providers.firmly.FirmlyProvider",
}


def providers_from_environment() -> dict:
    """The sandbox, plus every provider that has at least one ONECLICK_<NAME>_* variable."""
    providers = {"sandbox": {"BACKEND": PROVIDER_BACKENDS["sandbox"]}}
    for name, backend in PROVIDER_BACKENDS.items():
        prefix = f"ONECLICK_{name.upper()}_"
        options = {key[len(prefix):]: env.str(key) for key in os.environ if key.startswith(prefix)}
        if options:
            providers[name] = {"BACKEND": backend, **providers.get(name, {}), **options}
    return providers


ONECLICK = {
    "PRODUCT_RESOLVER": "shop.offers.offer_for",
    "BUYER_RESOLVER": "shop.offers.buyer_for",
    "PROVIDERS": providers_from_environment(),
    "ADD_PAYMENT_METHOD_URL": "/payment-methods/",
    "THROTTLE_CACHE": "throttle",
    "TRUSTED_PROXY_COUNT": env.int("TRUSTED_PROXY_COUNT", default=0),
    # The rate limits, e.g. ONECLICK_ORDER_THROTTLE_RATE=1000/min for a fuzzing run (tests/test_schemathesis.py).
    **{rate: env.str(f"ONECLICK_{rate}") for rate in ("ORDER_THROTTLE_RATE", "METHOD_THROTTLE_RATE")
       if f"ONECLICK_{rate}" in env},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Card numbers a customer typed anywhere are masked in every log line (django_oneclick.log).
    "filters": {"no_card_numbers": {"()": "django_oneclick.log.CardNumberFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_card_numbers"]}},
    "loggers": {
        "django_oneclick": {
            "handlers": ["console"],
            "level": env.str("ONECLICK_LOG_LEVEL", default="INFO"),
            "propagate": False,
        }
    },
}
