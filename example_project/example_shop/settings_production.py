"""The example shop in production: the base settings, hardened, passing ``manage.py check --deploy``
with no warning. Select it with ``DJANGO_SETTINGS_MODULE=example_shop.settings_production``.

Read from the environment (or example_project/.env), with django-environ:

- ``SECRET_KEY`` (required, no default): 50 or more random characters, e.g.
  ``python -c "import secrets; print(secrets.token_urlsafe(50))"``.
- ``ALLOWED_HOSTS`` (required): the shop's host names, comma-separated (``shop.example.com``).
- ``CSRF_TRUSTED_ORIGINS``: other origins whose forms may post to the shop
  (``https://www.example.com``); none by default.
- ``DATABASE_URL``: as in the base settings (PostgreSQL for more than one machine).
- ``CONN_MAX_AGE``: seconds a database connection is kept between requests (60).
- ``CACHE_URL``: the default cache (the sandbox's provider-side state), shared by every process;
  the database cache by default.
- ``THROTTLE_CACHE_URL``: where the rate limits count (``ONECLICK["THROTTLE_CACHE"]``). It must be
  shared by every process and have an atomic ``incr``: Redis (``redis://redis:6379/1``) or Memcached
  (``pymemcache://memcached:11211``). The default, ``locmemcache://``, counts per process: right
  only when one process serves the shop. The database cache has no atomic ``incr``: never use it here.
- ``BEHIND_PROXY``: ``true`` when a reverse proxy terminates HTTPS and sets ``X-Forwarded-Proto``
  (overwriting whatever the client sent); Django then trusts that header to know a request came
  over HTTPS. Leave it off when Django serves HTTPS itself or the proxy does not set the header:
  anyone could claim HTTPS with it. Also set ``TRUSTED_PROXY_COUNT`` (base settings) for the
  customer's IP.
- ``SECURE_SSL_REDIRECT``: ``false`` only when the proxy already redirects HTTP to HTTPS.
- ``STATIC_ROOT``: where ``manage.py collectstatic`` puts the static files for the web server.
"""

from example_shop.settings import *  # noqa: F403 (the base settings, overridden below)
from example_shop.settings import BASE_DIR, DATABASES, ONECLICK, env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")  # no default: the shop refuses to start without one
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS only: cookies never sent in clear, HTTP redirected, and browsers told to use HTTPS for a
# year, subdomains included (HSTS). Preload asks browsers to ship the host as HTTPS-only: submit it
# at hstspreload.org only once every subdomain serves HTTPS, it is hard to undo.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = 31_536_000  # one year
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Persistent database connections, checked before reuse.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

CACHES = {
    "default": env.cache("CACHE_URL", default="dbcache://oneclick_cache"),
    "throttle": env.cache("THROTTLE_CACHE_URL", default="locmemcache://oneclick-throttle"),
}
ONECLICK = {**ONECLICK, "THROTTLE_CACHE": "throttle"}

STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

# The API answers JSON only: DRF's browsable HTML pages use inline styles the strict
# Content-Security-Policy (base settings) refuses.
REST_FRAMEWORK = {"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
