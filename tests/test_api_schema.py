"""The API's OpenAPI 3 schema: valid, served by the app without any setting of the shop's, every
operation of the API in it with its parameters and answers; and the API holding to what it says
(types refused rather than coerced, a page size refused rather than ignored, a malformed id a 404 of
the API's own). Against the live example shop: test_schemathesis.py."""

from __future__ import annotations

import json

import pytest
import yaml
from django.conf import settings
from django.test import override_settings
from django.urls import resolve, reverse
from drf_spectacular.validation import validate_schema
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from django_oneclick.api.schema import OneClickSchemaGenerator
from django_oneclick.api.urls import router
from django_oneclick.api.views import OrderPagination, OrderViewSet, PaymentMethodViewSet
from tests.conftest import add_method

ORDERS = "/oneclick/api/orders/"
METHODS = "/oneclick/api/payment-methods/"
SAMPLE_IDS = {"public_id": "00000000-0000-4000-8000-000000000000", "id": "1"}


def generated():
    return OneClickSchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    return {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def test_the_schema_is_valid_openapi():
    schema = generated()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "django-oneclick API"


def test_no_setting_of_the_shop_is_needed():
    """The test settings name neither DEFAULT_SCHEMA_CLASS nor SPECTACULAR_SETTINGS, nor install
    drf_spectacular: the app's views carry their own inspector."""
    assert not hasattr(settings, "SPECTACULAR_SETTINGS")
    assert "DEFAULT_SCHEMA_CLASS" not in getattr(settings, "REST_FRAMEWORK", {})
    assert "drf_spectacular" not in settings.INSTALLED_APPS


def test_every_operation_of_the_api_is_in_the_schema_at_its_real_path():
    """Each (method, route) the router serves appears once, at the path where the app is mounted."""
    served = {
        (method.upper(), pattern.name)
        for pattern in router.urls
        for method in getattr(pattern.callback, "actions", {})
        if method != "head"  # the router's for every GET
    }
    described = set()
    for method, path in operations(generated()):
        match = resolve(path.format(**SAMPLE_IDS))
        assert match.namespace == "django_oneclick", path
        assert method.lower() in match.func.actions, (method, path)
        described.add((method, match.url_name))
    assert described == served
    assert len(served) == 8


def test_each_operation_has_an_id_a_summary_and_its_answers():
    ops = operations(generated())
    assert {op["operationId"] for op in ops.values()} == {
        "list_orders",
        "place_order",
        "get_order",
        "list_payment_methods",
        "register_payment_method",
        "get_payment_method",
        "delete_payment_method",
        "make_payment_method_default",
    }
    for (method, path), op in ops.items():
        assert op["summary"], (method, path)
        assert {"401", "403"} <= op["responses"].keys(), (method, path)
        if "{" in path:
            assert "404" in op["responses"], (method, path)
        for code, response in op["responses"].items():
            if code != "204":
                assert "application/json" in response["content"], (method, path, code)


def test_placing_an_order_is_described_in_full():
    schema = generated()
    op = operations(schema)["POST", ORDERS]
    key = next(p for p in op["parameters"] if p["name"] == "Idempotency-Key")
    assert key["in"] == "header" and key["required"] is True
    assert key["schema"]["maxLength"] == 255
    assert op["requestBody"]["required"] is True
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PlaceOrder"}
    place = schema["components"]["schemas"]["PlaceOrder"]
    assert place["required"] == ["product"]
    assert place["properties"]["options"]["type"] == "object"
    assert place["properties"]["quantity"]["maximum"] == 20  # MAX_QUANTITY
    responses = op["responses"]

    def body_of(code):
        return responses[code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    assert {code: body_of(code) for code in ("200", "201", "400", "409", "415", "422", "429")} == {
        "200": "Order",
        "201": "Order",
        "400": "BadRequest",
        "409": "IdempotencyConflict",
        "415": "ErrorDetail",
        "422": "IdempotencyConflict",
        "429": "ErrorDetail",
    }
    assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    components = schema["components"]["schemas"]
    assert components["FieldErrors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    assert components["IdempotencyConflict"]["required"] == ["detail", "order"]


def test_ids_in_paths_are_typed():
    ops = operations(generated())
    order_id = next(p for p in ops["GET", ORDERS + "{public_id}/"]["parameters"] if p["in"] == "path")
    assert order_id["schema"] == {"type": "string", "format": "uuid"}
    method_id = next(p for p in ops["DELETE", METHODS + "{id}/"]["parameters"] if p["in"] == "path")
    assert method_id["schema"]["type"] == "integer"


def test_registering_a_method_is_described():
    schema = generated()
    op = operations(schema)["POST", METHODS]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RegisterMethod"
    }
    assert schema["components"]["schemas"]["RegisterMethod"]["required"] == ["data", "provider"]
    assert {"201", "400", "429"} <= op["responses"].keys()
    assert "409" in operations(schema)["DELETE", METHODS + "{id}/"]["responses"]


def test_session_authentication_and_its_csrf_token_are_the_security_requirements():
    schema = generated()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    assert schemes["csrfHeader"]["name"] == "X-CSRFToken" and schemes["csrfHeader"]["in"] == "header"
    assert schemes["csrfCookie"] == {"type": "apiKey", "in": "cookie", "name": "csrftoken"}
    for (method, path), op in operations(schema).items():
        csrf = {} if method == "GET" else {"csrfHeader": [], "csrfCookie": []}
        assert op["security"] == [{"cookieAuth": [], **csrf}], (method, path)


@override_settings(
    REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]}
)
def test_a_shop_with_its_own_authentication_gets_it_in_the_schema(monkeypatch):
    # DRF reads DEFAULT_AUTHENTICATION_CLASSES into the views' class attribute when they are imported.
    for view in (OrderViewSet, PaymentMethodViewSet):
        monkeypatch.setattr(view, "authentication_classes", [TokenAuthentication])
    schema = generated()
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth"}
    assert operations(schema)["POST", ORDERS]["security"] == [{"tokenAuth": []}]


@pytest.mark.django_db
def test_the_schema_is_served_from_the_app_as_yaml_and_json(client):
    url = reverse("django_oneclick:schema")
    assert url == "/oneclick/api/schema/"
    as_yaml = client.get(url)
    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    as_json = client.get(url, {"format": "json"})
    assert as_json.status_code == 200
    assert yaml.safe_load(as_yaml.content) == json.loads(as_json.content) == json.loads(json.dumps(generated()))


# What the schema says, the API holds to.


@pytest.mark.parametrize(
    "body",
    [
        {"product": "book", "quantity": "1"},
        {"product": "book", "quantity": 1.0},
        {"product": "book", "quantity": True},
        {"product": "book", "payment_method": "1"},
        {"product": 123},
    ],
)
def test_a_number_or_a_text_of_the_wrong_json_type_is_refused_not_coerced(api, customer, body):
    add_method(customer, "approved")
    response = api.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    field = next(name for name in body if name != "product" or len(body) == 1)
    assert field in response.json()


def test_a_provider_name_that_is_not_text_is_refused(api):
    response = api.post(METHODS, {"provider": 1, "data": {}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"provider": ["Not a valid string."]}


def test_an_idempotency_key_outside_printable_ascii_is_refused(api, customer):
    add_method(customer, "approved")
    response = api.post(ORDERS, {"product": "book"}, format="json", HTTP_IDEMPOTENCY_KEY="clé-1")
    assert response.status_code == 400
    assert response.json() == {"Idempotency-Key": ["Use at most 255 printable ASCII characters."]}


@pytest.mark.parametrize("size", ["abc", "0", "-1", "1.5", "", "true"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(api, size):
    response = api.get(ORDERS, {"page_size": size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["Send a whole number from 1 to 100."]}


@pytest.mark.parametrize(("size", "sent"), [("3", 3), ("003", 3), ("100", 100), ("101", 100), ("9" * 5000, 100)])
def test_a_large_page_size_is_cut_to_the_largest(size, sent):
    request = Request(APIRequestFactory().get(ORDERS, {"page_size": size}))
    assert OrderPagination().get_page_size(request) == sent


@pytest.mark.parametrize("page", ["abc", "last", "1.0", "0"])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_404(api, page):
    response = api.get(ORDERS, {"page": page})
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ORDERS + "not-a-uuid/"), ("get", ORDERS + "A" * 40 + "/"), ("get", METHODS + "1.5/"),
     ("post", METHODS + "x/default/"), ("delete", METHODS + "99999999999999999999999/")],
)
def test_a_malformed_id_is_the_apis_own_json_404(api, method, path):
    response = getattr(api, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_answers_that_carry_an_id_link_to_the_operations_that_take_it():
    ops = {op["operationId"]: op for op in operations(generated()).values()}
    links = {
        (source, status, link["operationId"]): link["parameters"]
        for source, op in ops.items()
        for status, response in op["responses"].items()
        for link in response.get("links", {}).values()
    }
    assert ("place_order", "201", "get_order") in links
    assert ("register_payment_method", "201", "delete_payment_method") in links
    assert ("list_payment_methods", "200", "make_payment_method_default") in links
    for (_source, _status, target), parameters in links.items():
        path_ids = {p["name"] for p in ops[target]["parameters"] if p["in"] == "path"}
        assert set(parameters) == path_ids, target
