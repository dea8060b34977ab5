
import pytest
from django.contrib.auth import get_user_model

from django_oneclick.models import PaymentMethod
from django_oneclick.providers import registry
from tests.postgres import PostgresUnavailable, TestPostgres

pytest_plugins = ["tests.chromium", "tests.run_summaries"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """On ONECLICK_TEST_DB=postgres, start the server and point the default database at it."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        yield
        return
    try:
        server = TestPostgres().start()
    except PostgresUnavailable as exc:
        pytest.exit(f"PostgreSQL could not start: {exc}", returncode=3)
    settings.DATABASES["default"]["PORT"] = str(server.port)
    yield
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_providers():
    """Each test builds its providers from its own settings."""
    registry.reset()
    yield
    registry.reset()


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def customer(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "pw")


@pytest.fixture
def other_customer(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", "pw")


def add_method(user, reference="approved", *, provider="sandbox", default=True, label=None, **fields):
    return PaymentMethod.objects.create(
        owner=user,
        provider=provider,
        reference=reference,
        label=label or f"Sandbox {reference}",
        is_default=default,
        **fields,
    )


@pytest.fixture
def api(customer):
    """An API client signed in as ``customer`` (CSRF is exercised in test_security.py)."""
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=False)
    client.force_login(customer)
    return client
