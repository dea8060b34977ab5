"""The API's OpenAPI 3 schema (drf-spectacular), served at ``api/schema/``.

Nothing for the shop to configure: the app's views carry their own :class:`OneClickAutoSchema`
(no ``DEFAULT_SCHEMA_CLASS``), and the schema view keeps to the app's operations, at the paths
where the shop mounted them, under the app's own title and version (no ``SPECTACULAR_SETTINGS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings

from django_oneclick.orders.validation import MAX_KEY_LENGTH

TITLE = "django-oneclick API"
DESCRIPTION = """One-click purchases and saved payment methods for the signed-in customer.

Authentication: by default the shop's session (the `sessionid` cookie) with Django's CSRF check:
every POST and DELETE sends the `csrftoken` cookie's value in an `X-CSRFToken` header (over HTTPS
also a same-origin `Referer`). A shop may name other DRF authentication classes instead.

Placing an order needs an `Idempotency-Key` header, one unique key per purchase: the same key with
the same body answers the same order again (200), never a second purchase."""


def _version() -> str:
    try:
        return version("django-oneclick")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout that was not installed
        return "0.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


#: The error bodies the API answers, added to every schema of the app (see ``responses``).
ERROR_COMPONENTS: dict[str, dict[str, Any]] = {
    "FieldErrors": {
        "type": "object",
        "description": (
            "The request was refused before anything was written: the messages of each field at fault. "
            f"A request-wide message is under `{api_settings.NON_FIELD_ERRORS_KEY}`, one about the key "
            "under `Idempotency-Key`."
        ),
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"quantity": ["Choose a quantity from 1 to 20."]},
    },
    "ErrorDetail": {
        "type": "object",
        "description": "What went wrong, in words.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "BadRequest": {
        "description": "Field errors, or a body that is not JSON (`detail`).",
        "oneOf": [_ref("FieldErrors"), _ref("ErrorDetail")],
    },
    "IdempotencyConflict": {
        "type": "object",
        "description": "A refusal of the Idempotency-Key rules, with the order the key belongs to.",
        "properties": {"detail": {"type": "string"}, "order": {"type": "string", "format": "uuid"}},
        "required": ["detail", "order"],
    },
}

#: The Idempotency-Key as the server accepts it: the surrounding whitespace is not part of an HTTP
#: header's value, the rest is printable ASCII (as in the IETF draft, a Structured Field string).
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"^[!-~]([ -~]*[!-~])?$"},
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "One unique key per purchase, chosen by the client (e.g. a UUID): the same key with the same body "
        "answers the same order; with another body, a 422."
    ),
)

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    required=True,
    description="Seconds until the rate limit lets the customer in again.",
    response=[429],
)


def _response(description: str, schema: str | None) -> OpenApiResponse:
    return OpenApiResponse(response=_ref(schema) if schema else None, description=description)


BAD_REQUEST = _response("Refused, nothing was written: the messages of each field at fault.", "BadRequest")
BAD_QUERY = _response("A query parameter is not what it should be.", "FieldErrors")
NOT_SIGNED_IN = _response(
    "No signed-in customer, or the CSRF check failed (with session authentication; other "
    "authentication classes may answer 401).",
    "ErrorDetail",
)
NOT_SIGNED_IN_401 = _response(
    "No credentials, with an authentication class that asks for them (e.g. token authentication).",
    "ErrorDetail",
)
NOT_FOUND = _response("None such among the customer's own (another customer's is not found either).", "ErrorDetail")
NO_PAGE = _response("No such page (`?page=` past the last one, or not a whole number).", "ErrorDetail")
UNSUPPORTED_MEDIA = _response("The body is not JSON (`Content-Type: application/json`).", "ErrorDetail")
METHOD_IN_USE = _response("The method pays for an order that has not settled yet.", "ErrorDetail")
THROTTLED = _response("Too many requests of this kind in a short time: wait `Retry-After` seconds.", "ErrorDetail")

def conflict(description: str) -> OpenApiResponse:
    return _response(description, "IdempotencyConflict")


#: Every operation's refusals for a caller who is not signed in.
AUTH_RESPONSES: dict[int, OpenApiResponse] = {401: NOT_SIGNED_IN_401, 403: NOT_SIGNED_IN}


class OneClickAutoSchema(AutoSchema):
    """drf-spectacular's inspector, set on the app's views (so a shop needs no DEFAULT_SCHEMA_CLASS);
    the schema view keeps to the views that carry it. With session authentication, a POST or a
    DELETE also needs Django's CSRF token, as a header and (unless ``CSRF_USE_SESSIONS``) a cookie:
    both are part of its security requirement."""

    def get_override_parameters(self) -> list[Any]:
        """The id in the path as the view types it (``lookup_schema_type``): the route takes anything
        up to the next slash (a malformed id is then the API's own JSON 404), so neither the route's
        pattern nor the shop's SCHEMA_COERCE_PATH_PK setting says what the id is."""
        parameters = list(super().get_override_parameters())
        kind = getattr(self.view, "lookup_schema_type", None)
        if kind is not None:
            parameters += [
                OpenApiParameter(name, kind, OpenApiParameter.PATH, description="The `id` the API answered.")
                for name in re.findall(r"{(\w+)}", self.path)
            ]
        return parameters

    def get_auth(self) -> list[dict[str, list[str]]]:
        requirements: list[dict[str, list[str]]] = super().get_auth()
        if self.method in SAFE_METHODS:
            return requirements
        session = {
            scheme.name
            for authenticator in self.view.get_authenticators()
            if isinstance(authenticator, SessionAuthentication)
            and (scheme := OpenApiAuthenticationExtension.get_match(authenticator)) is not None
            and isinstance(scheme.name, str)
        }
        if not session:
            return requirements
        csrf = csrf_schemes()
        for name, definition in csrf.items():
            self.registry.register_on_missing(
                ResolvedComponent(name=name, type=ResolvedComponent.SECURITY_SCHEMA, object=name, schema=definition)
            )
        return [
            {**requirement, **{name: [] for name in csrf}} if session & requirement.keys() else requirement
            for requirement in requirements
        ]


def csrf_schemes() -> dict[str, dict[str, str]]:
    """Django's CSRF token as OpenAPI security schemes: the header the check reads and the cookie
    it compares it with."""
    header = settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")
    schemes = {
        "csrfHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRFToken" if header == "X-CSRFTOKEN" else header,
            "description": "The CSRF token (the `csrftoken` cookie's value), on every POST and DELETE.",
        }
    }
    if not settings.CSRF_USE_SESSIONS:
        schemes["csrfCookie"] = {"type": "apiKey", "in": "cookie", "name": settings.CSRF_COOKIE_NAME}
    return schemes


F = TypeVar("F", bound=Callable[..., Any])


def operation(**kwargs: Any) -> Callable[[F], F]:
    """drf-spectacular's ``extend_schema`` for a method of the app's views, built on
    :class:`OneClickAutoSchema`: by default ``extend_schema`` builds on ``DEFAULT_SCHEMA_CLASS``,
    which in a shop that did not set it is DRF's own inspector, one drf-spectacular cannot use."""

    def decorate(method: F) -> F:
        setattr(method, "schema", OneClickAutoSchema)  # noqa: B010  # what extend_schema builds on first
        return extend_schema(**kwargs)(method)

    return decorate


class OneClickSchemaGenerator(SchemaGenerator):
    """The app's operations only, with the app's title and version and its error bodies."""

    def _initialise_endpoints(self) -> None:
        super()._initialise_endpoints()
        endpoints: list[Any] = list(self.endpoints or [])  # (path, path regex, method, view function)
        self.endpoints = [
            endpoint
            for endpoint in endpoints
            if isinstance(getattr(getattr(endpoint[3], "cls", None), "schema", None), OneClickAutoSchema)
        ]

    def get_schema(self, request: Request | None = None, public: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super().get_schema(request=request, public=public)
        schema["info"] = {"title": TITLE, "version": _version(), "description": DESCRIPTION}
        schema.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_COMPONENTS)
        add_links(schema)
        return schema


ORDER = ("get_order",)
METHOD = ("get_payment_method", "make_payment_method_default", "delete_payment_method")
#: (operation, status) -> (where its answer holds an id, the operations that take that id).
LINKS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("place_order", "201"): ("$response.body#/id", ORDER),
    ("place_order", "200"): ("$response.body#/id", ORDER),
    ("list_orders", "200"): ("$response.body#/results/0/id", ORDER),
    ("register_payment_method", "201"): ("$response.body#/id", METHOD),
    ("list_payment_methods", "200"): ("$response.body#/0/id", METHOD),
    ("get_payment_method", "200"): ("$response.body#/id", METHOD[1:]),
    ("make_payment_method_default", "200"): ("$response.body#/id", METHOD[::2]),
}


def add_links(schema: dict[str, Any]) -> None:
    """OpenAPI links from the answers that carry an order's or a method's id to the operations
    that take it (for clients, and for schemathesis' stateful tests)."""
    by_id = {
        operation["operationId"]: operation
        for item in schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for (source, status), (value, targets) in LINKS.items():
        response = by_id.get(source, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for target in targets:
            if target not in by_id:
                continue
            path_id = next(p["name"] for p in by_id[target]["parameters"] if p["in"] == "path")
            name = "".join(part.title() for part in target.split("_"))
            response.setdefault("links", {})[name] = {"operationId": target, "parameters": {path_id: value}}


class OneClickSchemaView(SpectacularAPIView):
    """The app's OpenAPI 3 schema: YAML by default, JSON with ``?format=json`` or
    ``Accept: application/vnd.oai.openapi+json``."""

    generator_class = OneClickSchemaGenerator
