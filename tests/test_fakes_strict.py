"""The Billerix and Digital River fakes on their own: hit with httpx, never through the provider
modules, they refuse what the providers' documents refuse and verify with their own code."""

from __future__ import annotations

import ast
import hashlib
import hmac
import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from django_oneclick.testing import billerix as bx
from django_oneclick.testing import digitalriver as dr

# Billerix's published x-token test vector (its docs' PHP sample and a public Rust client's test).
VECTOR_SECRET = "secret-key-test123123123abc"
VECTOR_PUBLIC = "aa46a835-36fa-4f75-ba3d-dc8785912345"
VECTOR_IP = "10.10.10.10"
VECTOR_DATE = "2024-01-27T23:59:59"
VECTOR_TOKEN = "5cdc01c2d66c52a513f58e077d85660468852fc141d305888416a151a05dc159"
#: A UUID no fake knows (fixed, so that every test worker collects the same tests).
UNKNOWN_UUID = "5b7c9e2e-1d0a-4f53-9c1e-3a8f6d2b7e40"


PROVIDER_MODULES = ("django_oneclick.providers.billerix", "django_oneclick.providers.digitalriver")


def imported_modules(source: str, package: str) -> set[str]:
    """Every module (and ``module.name``) the source imports, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return names


@pytest.mark.parametrize(
    "source",
    [
        "from django_oneclick.providers.billerix import x_token",
        "from django_oneclick.providers import digitalriver",
        "import django_oneclick.providers.billerix as b",
        "from ..providers.billerix import x_token",
    ],
)
def test_the_import_check_sees_every_spelling(source):
    assert any(name.startswith(PROVIDER_MODULES) for name in imported_modules(source, "django_oneclick.testing"))


@pytest.mark.parametrize("fake", [bx, dr], ids=["billerix", "digitalriver"])
def test_neither_fake_imports_the_provider_it_is_meant_to_catch(fake):
    source = inspect.getsource(fake)
    imported = imported_modules(source, "django_oneclick.testing")

    assert not [name for name in imported if name.startswith(PROVIDER_MODULES)]
    assert "importlib" not in imported and "__import__" not in source  # nor imported by name


# -- Billerix


def test_billerix_signature_agrees_with_the_published_vector():
    assert bx.sign(VECTOR_SECRET, VECTOR_PUBLIC, VECTOR_IP, VECTOR_DATE) == VECTOR_TOKEN


# One server per module (a server's shutdown takes half a second); each test starts from a
# clean slate of the state it looks at.
@pytest.fixture(scope="module")
def billerix_server():
    with bx.BillerixFake() as fake:
        fake.add_product("BOOK")
        yield fake


@pytest.fixture
def billerix(billerix_server):
    billerix_server.orders.clear()
    billerix_server.requests.clear()
    billerix_server.coupons.clear()
    billerix_server.merchant_keys = {bx.PUBLIC_KEY: bx.SECRET_KEY}
    return billerix_server


@pytest.fixture
def buyer(billerix):
    return billerix.add_buyer(subscriptions={"0f8fad5b-d9cb-469f-a165-70867728950e": "BOOK"})


def billerix_headers(ip: str = "203.0.113.7", **overrides: str) -> dict[str, str]:
    """Signed headers, signed here with the test's own HMAC (a third implementation)."""
    x_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    message = (bx.SECRET_KEY + bx.PUBLIC_KEY + ip + x_date).encode()
    headers = {
        "x-public-key": bx.PUBLIC_KEY,
        "x-buyer-ip": ip,
        "x-date": x_date,
        "x-token": hmac.new(bx.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest(),
        "x-source": "shop",
        "x-id": bx.SERVICE_ID,
    }
    return {**headers, **overrides}


def order_body(buyer: bx.Buyer, **overrides: Any) -> dict[str, Any]:
    body = {
        "isMobile": False,
        "chargeMethodId": buyer.charge_method_id,
        "currency": "EUR",
        "metaData": {"oneclickOrderId": "our-42"},
        "products": [{"actionName": "purchase", "productCode": "BOOK", "quantity": 1}],
    }
    return {**body, **overrides}


def create(fake: bx.BillerixFake, buyer_id: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/api/v3/buyers/{buyer_id}/oneclick", json=body, headers=headers or billerix_headers()
    )


def test_billerix_fake_accepts_the_published_vector_itself(billerix, buyer):
    billerix.add_key(VECTOR_PUBLIC, VECTOR_SECRET)
    headers = billerix_headers(
        VECTOR_IP, **{"x-public-key": VECTOR_PUBLIC, "x-date": VECTOR_DATE, "x-token": VECTOR_TOKEN}
    )

    response = create(billerix, buyer.buyer_id, order_body(buyer), headers)

    assert response.status_code == 201, response.text
    one_second_off = {**headers, "x-date": "2024-01-27T23:59:58"}
    assert create(billerix, buyer.buyer_id, order_body(buyer), one_second_off).status_code == 500


def test_billerix_creates_an_order_and_keeps_its_metadata(billerix, buyer):
    response = create(billerix, buyer.buyer_id, order_body(buyer))

    assert response.status_code == 201, response.text
    order_id = response.json()["data"]["id"]
    assert response.json() == {"data": {"id": order_id}, "meta": {"type": "entity"}}
    [placed] = billerix.orders_with_metadata(oneclickOrderId="our-42")
    assert placed["id"] == order_id and placed["metaData"] == {"oneclickOrderId": "our-42"}
    assert billerix.orders_with_metadata(oneclickOrderId="another") == []

    result = httpx.get(f"{billerix.base_url}/api/v3/orders/{order_id}/result", headers=billerix_headers())

    assert result.status_code == 200
    assert result.json()["data"]["chargeStatus"] == "settled"


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"x-token": "0" * 64}, 500),
        ({"x-token": ""}, 422),
        ({"x-public-key": UNKNOWN_UUID}, 500),
        ({"x-date": "2024-01-27 23:59:59"}, 422),  # the PHP sample's format, not Y-m-dTH:i:s
        ({"x-date": "2024-1-27T23:59:59"}, 422),
        ({"x-date": "2024-02-30T10:00:00"}, 422),
        ({"x-buyer-ip": "not-an-ip"}, 422),
        ({"x-id": "another-service"}, 403),
        ({"x-source": "elsewhere"}, 403),
    ],
)
def test_billerix_refuses_bad_headers(billerix, buyer, overrides, status):
    response = create(billerix, buyer.buyer_id, order_body(buyer), billerix_headers(**overrides))

    assert response.status_code == status, response.text
    assert set(response.json()) >= {"uuid", "message", "code", "traceId"}
    assert not billerix.orders


def test_billerix_signature_covers_the_buyer_ip(billerix, buyer):
    headers = {**billerix_headers("203.0.113.7"), "x-buyer-ip": "203.0.113.8"}

    assert create(billerix, buyer.buyer_id, order_body(buyer), headers).status_code == 500


@pytest.mark.parametrize("missing", bx.REQUIRED_HEADERS)
def test_billerix_refuses_a_missing_header(billerix, buyer, missing):
    headers = billerix_headers()
    del headers[missing]

    response = create(billerix, buyer.buyer_id, order_body(buyer), headers)

    assert response.status_code in (400, 401, 403, 422, 500)
    assert not billerix.orders


SUBSCRIPTION = "0f8fad5b-d9cb-469f-a165-70867728950e"
PURCHASE = {"actionName": "purchase", "productCode": "BOOK"}
RENEW = {"actionName": "renew", "productCode": "BOOK", "subscriptionId": SUBSCRIPTION}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"isMobile": None}, 422),
        ({"isMobile": "false"}, 422),
        ({"chargeMethodId": None}, 422),
        ({"chargeMethodId": UNKNOWN_UUID}, 404),
        ({"currency": "eur"}, 422),
        ({"currency": "EURO"}, 422),
        ({"metaData": ["oneclickOrderId"]}, 422),
        ({"products": None}, 422),
        ({"products": []}, 422),
        ({"products": {"actionName": "purchase"}}, 422),
        ({"products": [{"actionName": "buy", "productCode": "BOOK"}]}, 422),
        ({"products": [{"actionName": "purchase", "productCode": "MUG"}]}, 404),
        ({"products": [{**PURCHASE, "quantity": 0}]}, 422),
        ({"products": [{**PURCHASE, "quantity": True}]}, 422),
        ({"products": [{**PURCHASE, "subscriptionId": SUBSCRIPTION}]}, 422),  # rule 2
        ({"products": [{**PURCHASE, "couponCode": "SUM30"}]}, 422),  # an unknown coupon
        ({"products": [{**PURCHASE, "discount": 120}]}, 422),
        ({"products": [{**PURCHASE, "autoChargeStatus": "yes"}]}, 422),
        ({"products": [{"actionName": "renew", "productCode": "BOOK"}]}, 422),
        ({"products": [{**RENEW, "subscriptionId": UNKNOWN_UUID}]}, 404),  # not the buyer's
        ({"products": [{**RENEW, "quantity": 1}]}, 422),  # rule 2
        ({"products": [RENEW, {**RENEW, "actionName": "upgrade"}]}, 422),  # rule 1
        ({"coupon": "SUM30"}, 422),
    ],
)
def test_billerix_refuses_a_malformed_body(billerix, buyer, change, status):
    body = {key: value for key, value in order_body(buyer, **change).items() if value is not None}

    response = create(billerix, buyer.buyer_id, body)

    assert response.status_code == status, response.text
    assert not billerix.orders


def test_billerix_accepts_every_documented_field_and_all_actions_at_once(billerix, buyer):
    billerix.add_coupon("SUM30")
    products = [
        {"actionName": "purchase", "productCode": "BOOK", "couponCode": "SUM30", "discount": "30.24", "quantity": 2},
        {"actionName": "renew", "productCode": "BOOK", "subscriptionId": SUBSCRIPTION, "autoChargeStatus": True},
    ]
    body = order_body(buyer, isMobile=True, products=products)
    del body["currency"], body["metaData"]  # both optional

    assert create(billerix, buyer.buyer_id, body).status_code == 201


@pytest.mark.parametrize(
    ("buyer_id", "body", "content_type", "status"),
    [
        ("not-a-uuid", None, "application/json", 422),
        (UNKNOWN_UUID, None, "application/json", 404),
        (None, b"{not json", "application/json", 400),
        (None, b"[]", "application/json", 400),
        (None, b'{"isMobile": false}', "text/plain", 400),
    ],
)
def test_billerix_refuses_a_malformed_request(billerix, buyer, buyer_id, body, content_type, status):
    content = body if body is not None else httpx.Request("POST", "/", json=order_body(buyer)).content
    response = httpx.post(
        f"{billerix.base_url}/api/v3/buyers/{buyer_id or buyer.buyer_id}/oneclick",
        content=content,
        headers={**billerix_headers(), "Content-Type": content_type},
    )

    assert response.status_code == status, response.text
    assert not billerix.orders


def test_billerix_serves_no_undocumented_charge_history(billerix, buyer):
    assert create(billerix, buyer.buyer_id, order_body(buyer)).status_code == 201

    response = httpx.get(
        f"{billerix.base_url}/api/v2/buyers/{buyer.buyer_id}/charge/history", headers=billerix_headers()
    )

    assert response.status_code == 404


def test_billerix_result_refuses_a_bad_signature_and_unknown_orders(billerix):
    url = f"{billerix.base_url}/api/v3/orders/Abcd1234/result"

    assert httpx.get(url, headers=billerix_headers(**{"x-token": "f" * 64})).status_code == 500
    assert httpx.get(url, headers=billerix_headers()).status_code == 404
    assert httpx.get(f"{billerix.base_url}/api/v3/orders/bad/result", headers=billerix_headers()).status_code == 422


# -- Digital River


@pytest.fixture(scope="module")
def digitalriver_server():
    with dr.DigitalRiverFake() as fake:
        fake.add_product("5321623900", "A good book", Decimal("19.99"), "EUR")
        fake.add_product("5321624000", "A mug", Decimal("9.99"), "EUR")
        fake.add_shopper("shopper-1")
        fake.add_shopper("shopper-2")
        yield fake


@pytest.fixture
def digitalriver(digitalriver_server):
    digitalriver_server.orders.clear()
    digitalriver_server.requests.clear()
    digitalriver_server.tokens.clear()
    return digitalriver_server


def token(fake: dr.DigitalRiverFake, shopper: str) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/oauth20/token",
        auth=(dr.API_KEY, dr.API_SECRET),
        data={"grant_type": "client_credentials", "externalReferenceId": shopper},
    )


def as_shopper(fake: dr.DigitalRiverFake, shopper: str) -> httpx.Client:
    access = token(fake, shopper).json()["access_token"]
    return httpx.Client(base_url=fake.base_url, headers={"Authorization": f"Bearer {access}"})


def purchase(client: httpx.Client, product: str = "5321623900") -> httpx.Response:
    return client.post(f"/v1/shoppers/me/products/{product}/purchase")


def test_digitalriver_purchase_answers_exactly_as_documented(digitalriver):
    with as_shopper(digitalriver, "shopper-1") as client:
        response = purchase(client)

    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    [order_id] = digitalriver.orders
    assert response.headers["location"] == f"{digitalriver.base_url}/shoppers/me/orders/{order_id}"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic " + "x" * 20, "Token abc"],
)
def test_digitalriver_refuses_an_unknown_token(digitalriver, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.post(f"{digitalriver.base_url}/v1/shoppers/me/products/5321623900/purchase", headers=headers)

    assert response.status_code == 401
    assert response.json()["errors"]["error"][0]["code"] == "invalid_token"
    assert not digitalriver.orders


def test_digitalriver_refuses_a_refresh_token_and_another_fakes_token(digitalriver):
    answer = token(digitalriver, "shopper-1").json()
    with dr.DigitalRiverFake() as other:
        foreign = token(other, dr.DEMO_SHOPPER).json()["access_token"]

    for bearer in (answer["refresh_token"], foreign):
        response = httpx.post(
            f"{digitalriver.base_url}/v1/shoppers/me/products/5321623900/purchase",
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert response.status_code == 401
    assert not digitalriver.orders


def test_digitalriver_refuses_an_expired_token(digitalriver, monkeypatch):
    monkeypatch.setattr(digitalriver, "token_lifetime", -1)
    with as_shopper(digitalriver, "shopper-1") as client:
        assert purchase(client).status_code == 401


@pytest.mark.parametrize(
    ("auth", "data", "status"),
    [
        (("wrong-key", dr.API_SECRET), {"grant_type": "client_credentials", "externalReferenceId": "shopper-1"}, 401),
        ((dr.API_KEY, "wrong"), {"grant_type": "client_credentials", "externalReferenceId": "shopper-1"}, 401),
        (None, {"grant_type": "client_credentials", "externalReferenceId": "shopper-1"}, 401),
        ((dr.API_KEY, dr.API_SECRET), {"grant_type": "client_credentials"}, 400),
        ((dr.API_KEY, dr.API_SECRET), {"grant_type": "password", "externalReferenceId": "shopper-1"}, 400),
        ((dr.API_KEY, dr.API_SECRET), {"grant_type": "client_credentials", "externalReferenceId": "nobody"}, 400),
    ],
)
def test_digitalriver_token_endpoint_checks_client_and_grant(digitalriver, auth, data, status):
    response = httpx.post(f"{digitalriver.base_url}/oauth20/token", auth=auth, data=data)

    assert response.status_code == status
    assert not digitalriver.tokens


def test_digitalriver_refuses_a_purchase_body(digitalriver):
    with as_shopper(digitalriver, "shopper-1") as client:
        response = client.post("/v1/shoppers/me/products/5321623900/purchase", json={"quantity": 1})

    assert response.status_code == 400
    assert not digitalriver.orders


@pytest.mark.parametrize("acted", [True, False])
def test_digitalriver_redirect_switch(digitalriver, acted):
    digitalriver.redirect_next_purchase(acted=acted)
    with as_shopper(digitalriver, "shopper-1") as client:
        response = purchase(client)
        assert purchase(client).status_code == 201  # only the next purchase

    assert response.status_code == 302
    assert response.headers["location"] == f"{digitalriver.base_url}/maintenance"
    assert len(digitalriver.orders) == (2 if acted else 1)
    assert httpx.get(response.headers["location"]).status_code == 200  # a page, not an order


@pytest.mark.parametrize("location", [True, False])
def test_digitalriver_200_switch(digitalriver, location):
    digitalriver.answer_next_purchase_with_200(location=location)
    with as_shopper(digitalriver, "shopper-1") as client:
        response = purchase(client)

    [order_id] = digitalriver.orders
    assert response.status_code == 200
    assert response.json()["order"]["id"] == order_id
    assert ("location" in response.headers) is location


def test_digitalriver_history_holds_a_past_order_of_the_shopper_only(digitalriver):
    earlier = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    digitalriver.add_past_order("shopper-1", "5321623900", earlier, order_id="111")
    with as_shopper(digitalriver, "shopper-1") as client:
        assert purchase(client, "5321624000").status_code == 201
        history = client.get("/v1/shoppers/me/orders", params={"expand": "all"}).json()["orders"]
        assert client.get("/v1/shoppers/me/orders/111").status_code == 200
    with as_shopper(digitalriver, "shopper-2") as other:
        assert other.get("/v1/shoppers/me/orders").json()["orders"]["order"] == []
        assert other.get("/v1/shoppers/me/orders/111").status_code == 404

    newest, past = history["order"]
    assert (history["totalResults"], history["totalResultPages"]) == (2, 1)
    assert past["id"] == "111" and past["submissionDate"] == "2025-03-04T05:06:07.000Z"
    assert past["orderState"] == digitalriver.new_order_state
    assert [item["product"]["id"] for item in past["lineItems"]["lineItem"]] == ["5321623900"]
    assert [item["product"]["id"] for item in newest["lineItems"]["lineItem"]] == ["5321624000"]


def test_digitalriver_history_is_paginated(digitalriver):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for day in range(5):
        digitalriver.add_past_order("shopper-1", "5321623900", start + timedelta(days=day), state="Complete")
    with as_shopper(digitalriver, "shopper-1") as client:
        first = client.get("/v1/shoppers/me/orders", params={"pageSize": 2}).json()["orders"]
        last = client.get("/v1/shoppers/me/orders", params={"pageSize": 2, "pageNumber": 3}).json()["orders"]
        assert client.get("/v1/shoppers/me/orders", params={"pageSize": "x"}).status_code == 400

    assert (first["totalResults"], first["totalResultPages"]) == (5, 3)
    assert [o["submissionDate"][:10] for o in first["order"]] == ["2025-01-05", "2025-01-04"]
    assert [o["submissionDate"][:10] for o in last["order"]] == ["2025-01-01"]
    assert "lineItems" not in first["order"][0]  # only with expand=all


def test_digitalriver_past_orders_need_a_known_shopper_product_and_a_free_id(digitalriver):
    when = datetime(2025, 1, 1, tzinfo=UTC)
    digitalriver.add_past_order("shopper-1", "5321623900", when, order_id="111")
    with pytest.raises(ValueError, match="exists"):
        digitalriver.add_past_order("shopper-1", "5321623900", when, order_id="111")
    with pytest.raises(ValueError, match="first"):
        digitalriver.add_past_order("nobody", "5321623900", when)
    with pytest.raises(ValueError, match="aware"):
        digitalriver.add_past_order("shopper-1", "5321623900", datetime(2025, 1, 1))
