"""The saved payment methods API: list, make default, remove, register (sandbox)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from django_oneclick.models import PaymentMethod
from tests.conftest import add_method

METHODS = "/oneclick/api/payment-methods/"


def defaults_of(user):
    return list(PaymentMethod.objects.filter(owner=user, is_default=True).values_list("pk", flat=True))


@pytest.fixture
def three_methods(customer):
    """Three methods created a minute apart, the oldest the default."""
    now = timezone.now()
    methods = [
        add_method(customer, "approved:a", default=True, label="A"),
        add_method(customer, "approved:b", default=False, label="B"),
        add_method(customer, "approved:c", default=False, label="C"),
    ]
    for age, method in zip((3, 2, 1), methods, strict=True):
        PaymentMethod.objects.filter(pk=method.pk).update(created_at=now - timedelta(minutes=age))
    return methods


@pytest.mark.django_db
def test_list_shows_own_methods_default_first_without_reference(api, customer, other_customer, three_methods):
    add_method(other_customer, "approved:theirs", label="Theirs")
    response = api.get(METHODS)
    assert response.status_code == 200
    data = response.json()
    assert [m["label"] for m in data] == ["A", "C", "B"]
    assert [m["is_default"] for m in data] == [True, False, False]
    for method in data:
        assert "reference" not in method
        assert "data" not in method
        assert "approved:" not in str(method)
    assert set(data[0]) == {
        "id", "provider", "label", "brand", "last4", "expires", "is_default", "needs_reentry", "created_at",
    }


@pytest.mark.django_db
def test_make_default_keeps_exactly_one(api, customer, three_methods):
    _, b, c = three_methods
    response = api.post(f"{METHODS}{b.pk}/default/")
    assert response.status_code == 200
    assert response.json()["is_default"] is True
    assert defaults_of(customer) == [b.pk]
    # Again on the same method: still one.
    assert api.post(f"{METHODS}{b.pk}/default/").status_code == 200
    assert api.post(f"{METHODS}{c.pk}/default/").status_code == 200
    assert defaults_of(customer) == [c.pk]
    assert api.get(METHODS).json()[0]["label"] == "C"


@pytest.mark.django_db
def test_database_refuses_a_second_default(customer, other_customer):
    add_method(customer, "approved", default=True)
    add_method(other_customer, "approved", default=True)  # one per owner, not one overall
    with pytest.raises(IntegrityError), transaction.atomic():
        add_method(customer, "declined", default=True)
    assert len(defaults_of(customer)) == 1


@pytest.mark.django_db
def test_removing_the_default_passes_it_to_the_newest_remaining(api, customer, three_methods):
    a, _, c = three_methods
    response = api.delete(f"{METHODS}{a.pk}/")
    assert response.status_code == 204
    assert not PaymentMethod.objects.filter(pk=a.pk).exists()
    assert defaults_of(customer) == [c.pk]


@pytest.mark.django_db
def test_removing_another_method_keeps_the_default(api, customer, three_methods):
    a, _, c = three_methods
    assert api.delete(f"{METHODS}{c.pk}/").status_code == 204
    assert defaults_of(customer) == [a.pk]
    assert list(PaymentMethod.objects.filter(owner=customer).values_list("label", flat=True)) == ["A", "B"]


@pytest.mark.django_db
def test_removing_the_last_method(api, customer):
    only = add_method(customer, "approved")
    assert api.delete(f"{METHODS}{only.pk}/").status_code == 204
    assert api.get(METHODS).json() == []


@pytest.mark.django_db
def test_orders_keep_their_label_when_the_method_is_removed(api, customer):
    method = add_method(customer, "approved", label="Visa •••• 4242")
    order = api.post(
        "/oneclick/api/orders/", {"product": "mug"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    ).json()
    assert api.delete(f"{METHODS}{method.pk}/").status_code == 204
    again = api.get(f"/oneclick/api/orders/{order['id']}/").json()
    assert again["payment_method"] == "Visa •••• 4242"


@pytest.mark.django_db
def test_register_sandbox_method(api, customer):
    response = api.post(METHODS, {"provider": "sandbox", "data": {"reference": "declined:test"}}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["provider"], data["label"], data["brand"]) == ("sandbox", "Sandbox (declined)", "Sandbox")
    assert data["is_default"] is True  # the first method becomes the default
    assert "reference" not in data
    stored = PaymentMethod.objects.get(pk=data["id"])
    assert (stored.owner, stored.reference) == (customer, "declined:test")

    second = api.post(METHODS, {"provider": "sandbox", "data": {"label": "My test card"}}, format="json")
    assert second.status_code == 201
    assert (second.json()["label"], second.json()["is_default"]) == ("My test card", False)
    assert PaymentMethod.objects.get(pk=second.json()["id"]).reference == "approved"
    assert defaults_of(customer) == [data["id"]]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"provider": "sandbox", "data": {"reference": "stolen-card"}}, "non_field_errors"),
    ({"provider": "nowhere", "data": {}}, "provider"),
    ({"provider": "sandbox"}, "data"),
    ({"provider": "sandbox", "data": "approved"}, "data"),
    ({"data": {"reference": "approved"}}, "provider"),
    ({"provider": "sandbox", "data": {"label": "x" * 101}}, "data"),
    ({"provider": "sandbox", "data": {"reference": "approved:" + "x" * 4000}}, "data"),
])
def test_register_invalid_is_400(api, customer, body, field):
    response = api.post(METHODS, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()[field][0]
    assert PaymentMethod.objects.count() == 0


@pytest.mark.django_db
def test_registered_method_buys(api, customer):
    method_id = api.post(METHODS, {"provider": "sandbox", "data": {}}, format="json").json()["id"]
    order = api.post(
        "/oneclick/api/orders/", {"product": "lamp", "payment_method": method_id}, format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    ).json()
    assert (order["status"], order["total"], order["currency"]) == ("completed", "49.00", "USD")


@pytest.mark.django_db
def test_anonymous_sees_nothing(customer):
    from rest_framework.test import APIClient

    add_method(customer)
    assert APIClient().get(METHODS).status_code == 403
