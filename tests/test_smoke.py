import pytest

from tests.conftest import add_method


@pytest.mark.django_db
def test_place_order_completes(api, customer):
    add_method(customer, "approved")
    response = api.post("/oneclick/api/orders/", {"product": "book", "quantity": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "completed"
    assert response.json()["total"] == "39.98"
