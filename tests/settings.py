"""Settings for the test suite. ``ONECLICK_TEST_DB=postgres`` runs it on the PostgreSQL server
that tests/conftest.py starts on 127.0.0.1 (the address is filled in there)."""

import os

import django

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_oneclick",
    "django_oneclick.providers.firmly",
    "django_oneclick.providers.sandbox",
    "tests.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
#: A strict Content-Security-Policy on every response, the one the example shop sends too: the
#: app's pages (the button, the order, the providers' pages, the admin's) must work under it, with
#: no inline script, style or event handler. Django 6's own middleware; django-csp (in the test
#: extra) on Django 5.2.
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
ROOT_URLCONF = "tests.urls"
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
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("ONECLICK_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "oneclick",
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "",  # set by tests/conftest.py once the server is up
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

ONECLICK = {
    "PRODUCT_RESOLVER": "tests.shop.offers.resolve",
    "BUYER_RESOLVER": "tests.shop.offers.buyer",
    "PROVIDERS": {
        "sandbox": {
            "BACKEND": "django_oneclick.providers.sandbox.SandboxProvider",
            "ASYNC_SECONDS": 0,
            "SLOW_SECONDS": 0.5,
        },
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_oneclick": {"handlers": ["console"], "level": "INFO"}},
}
