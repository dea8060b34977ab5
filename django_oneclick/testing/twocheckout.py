"""A fake 2Checkout SOAP API 6.0 on 127.0.0.1, for the ``twocheckout`` provider.

It serves ``twocheckout.wsdl`` with its own address as the service location, reads the SOAP
envelopes against the types of that WSDL (required fields, nil only where nillable, ints,
decimals, booleans), checks the login hash and the session's lifetime, keeps orders (the previous
orders a one-click purchase refers to, in any status, and the orders placed), and answers SOAP 1.1
faults for what 2Checkout documents it refuses. It shares no code with the provider.

Fault codes: ``ORDER_PRODUCTS_EMPTY``, ``ORDER_PRODUCT_CODE_INVALID`` and
``ORDER_ITEMS_QUANTITY_INVALID`` (with their messages) are documented by 2Checkout. INVENTED, as
the documentation names no code for them: ``AUTHENTICATION_ERROR`` for a bad login,
``SESSION_EXPIRED`` for an unknown or expired session (tests change it with ``session_fault``),
``INVALID_REFERENCE`` for an unusable reference and ``EMAIL_MISMATCH`` for a billing email that
is not the reference's (the document only says 2Checkout "throws an error"), and all their
messages. A malformed message gets the standard ``SOAP-ENV:Client`` fault.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing.server import FakeProviderServer, FakeRequest, FakeResponse

WSDL_TEMPLATE = Path(__file__).with_name("twocheckout.wsdl")
SOAP_PATH = "/soap/6.0/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
ORDER_NS = "urn:order"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

DEMO_MERCHANT = "FAKEMERCHANT"
DEMO_SECRET = "fake-2co-secret-key-0123456789"
DEMO_EMAIL = "demo@example.com"

#: Statuses a previous order must have to pay a one-click order ("Use only references to previous
#: orders with one of the following statuses AUTHRECEIVED or COMPLETE").
REFERENCE_STATUSES = ("AUTHRECEIVED", "COMPLETE")
MAX_ITEM_QUANTITY = 99999
MAX_SEARCH_LIMIT = 200
#: searchOrders option -> the order field it filters on.
SEARCH_FILTERS = (("ExternalRefNo", "ExternalReference"), ("Status", "Status"), ("ApproveStatus", "ApproveStatus"))


class SoapFault(Exception):
    """Answered as a SOAP 1.1 fault with HTTP 500."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def client_fault(message: str) -> SoapFault:
    return SoapFault("SOAP-ENV:Client", message)


# --- the WSDL's types, read from the file itself ------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # "string", "int", "decimal", "boolean" or a complex type name
    required: bool
    repeated: bool
    nillable: bool


def _local(qname: str) -> str:
    return qname.rsplit("}", 1)[-1].split(":")[-1]


class Schema:
    """Complex types and operation signatures of ``twocheckout.wsdl``, to read requests and
    write answers in the order the WSDL declares."""

    def __init__(self, wsdl: ET.Element) -> None:
        self.types: dict[str, list[Field]] = {}
        for complex_type in wsdl.iter(f"{{{XSD_NS}}}complexType"):
            self.types[complex_type.get("name", "")] = [
                Field(
                    name=element.get("name", ""),
                    type=_local(element.get("type", "")),
                    required=element.get("minOccurs", "1") != "0",
                    repeated=element.get("maxOccurs", "1") == "unbounded",
                    nillable=element.get("nillable") == "true",
                )
                for element in complex_type.iter(f"{{{XSD_NS}}}element")
            ]
        messages = {
            message.get("name", ""): [(part.get("name", ""), _local(part.get("type", ""))) for part in message]
            for message in wsdl.iter(f"{{{WSDL_NS}}}message")
        }
        self.inputs = {name[: -len("Request")]: parts for name, parts in messages.items() if name.endswith("Request")}
        self.outputs = {
            name[: -len("Response")]: parts[0] for name, parts in messages.items() if name.endswith("Response")
        }

    def read(self, element: ET.Element | None, type_name: str, path: str) -> Any:
        if element is None:
            return None
        if type_name == "string":
            return element.text or ""
        if type_name == "int":
            try:
                return int((element.text or "").strip())
            except ValueError:
                raise client_fault(f"{path}: {element.text!r} is not an int.") from None
        if type_name == "decimal":
            try:
                return Decimal((element.text or "").strip())
            except InvalidOperation:
                raise client_fault(f"{path}: {element.text!r} is not a decimal.") from None
        if type_name == "boolean":
            value = (element.text or "").strip()
            if value not in ("true", "false", "1", "0"):
                raise client_fault(f"{path}: {value!r} is not a boolean.")
            return value in ("true", "1")
        result: dict[str, Any] = {}
        children = list(element)
        for field in self.types[type_name]:
            matches = [child for child in children if _local(child.tag) == field.name]
            if field.required and not matches:
                raise client_fault(f"{path}.{field.name} is required.")
            nil = [child for child in matches if child.get(XSI_NIL) in ("true", "1")]
            if nil and not field.nillable:
                raise client_fault(f"{path}.{field.name} cannot be nil.")
            values = [child for child in matches if child not in nil]
            if field.repeated:
                result[field.name] = [
                    self.read(child, field.type, f"{path}.{field.name}[{i}]") for i, child in enumerate(values)
                ]
            else:
                result[field.name] = self.read(values[0] if values else None, field.type, f"{path}.{field.name}")
        return result

    def write(self, parent: ET.Element, name: str, type_name: str, value: Any) -> None:
        element = ET.SubElement(parent, name)
        if type_name == "boolean":
            element.text = "true" if value else "false"
        elif type_name in ("string", "int", "decimal"):
            element.text = str(value)
        else:
            for field in self.types[type_name]:
                field_value = value.get(field.name)
                if field_value is None:
                    continue
                for item in field_value if field.repeated else [field_value]:
                    self.write(element, field.name, field.type, item)


def _load_wsdl_template() -> str:
    return WSDL_TEMPLATE.read_text(encoding="utf-8")


def login_hash(merchant_code: str, secret_key: str, login_date: str) -> str:
    """The fake's own computation of the documented hash, independent of the provider's."""
    source = "".join(f"{len(part.encode())}{part}" for part in (merchant_code, login_date))
    return hmac.new(secret_key.encode(), source.encode(), hashlib.sha256).hexdigest()


def _envelope(body_child: ET.Element) -> bytes:
    envelope = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    ET.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(body_child)
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def _fault_response(fault: SoapFault) -> FakeResponse:
    node = ET.Element(f"{{{SOAP_ENV}}}Fault")
    ET.SubElement(node, "faultcode").text = fault.code
    ET.SubElement(node, "faultstring").text = fault.message
    return FakeResponse(500, _envelope(node), {"Content-Type": "text/xml; charset=utf-8"})


# --- the fake ----------------------------------------------------------------------------------


class TwoCheckoutFake(FakeProviderServer):
    """The 2Checkout SOAP API as far as one-click purchases go.

    Knobs for tests: ``session_lifetime`` (seconds), ``expire_sessions()``, ``session_fault``
    (the fault code and message of a refused session: 2Checkout documents none), ``catalogue``
    (product codes it sells; ``None`` sells any code), ``new_order_status`` (Status and
    ApproveStatus of the next orders placed), ``add_previous_order()`` (in any status),
    ``set_status()``, ``maintenance`` (answer 503), plus the transport faults of
    :class:`FakeProviderServer`.
    """

    backend = "django_oneclick.providers.twocheckout.TwoCheckoutProvider"

    def __init__(self) -> None:
        super().__init__()
        self._template = _load_wsdl_template()
        self.schema = Schema(ET.fromstring(self._template))
        self.merchants = {DEMO_MERCHANT: DEMO_SECRET}
        self.session_lifetime = 600.0
        #: INVENTED: 2Checkout only says it "throws an exception" for an incorrect session id.
        self.session_fault = ("SESSION_EXPIRED", "Invalid or expired session. Please log in again.")
        self.login_clock_tolerance = timedelta(minutes=15)
        self.catalogue: set[str] | None = None
        self.new_order_status = ("COMPLETE", "OK")
        self.maintenance = False
        self.orders: dict[str, dict[str, Any]] = {}
        #: (operation, decoded arguments) of every SOAP call received, for assertions.
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.issued_sessions: list[str] = []
        self._sessions: dict[str, tuple[str, float]] = {}
        self._ref_numbers = itertools.count(670174996)
        self._state = threading.Lock()
        self.demo_reference = self.add_previous_order(DEMO_EMAIL)

    # -- test and demo helpers

    def provider_options(self) -> dict[str, Any]:
        return {
            "MERCHANT_CODE": DEMO_MERCHANT,
            "SECRET_KEY": DEMO_SECRET,
            "WSDL_URL": f"{self.base_url}{SOAP_PATH}?wsdl",
        }

    def demo_method(self) -> MethodDetails:
        """What a shop saves after a customer's first order: its RefNo and its billing email."""
        return MethodDetails(
            reference=self.demo_reference,
            label=f"2Checkout order {self.demo_reference}",
            brand="2Checkout",
            data={"email": DEMO_EMAIL},
        )

    def add_previous_order(self, email: str, status: str = "COMPLETE", approve_status: str = "OK") -> str:
        """A past order of a customer, as the shop's first checkout left it; returns its RefNo."""
        ref_no = str(next(self._ref_numbers))
        self.orders[ref_no] = {
            "RefNo": ref_no,
            "Currency": "usd",
            "Country": "US",
            "Language": "en",
            "Status": status,
            "ApproveStatus": approve_status,
            "OrderDate": datetime.now(UTC).strftime(DATE_FORMAT),
            "Items": [{"Code": "first-purchase", "Quantity": 1}],
            "BillingDetails": {
                "FirstName": "Ada",
                "LastName": "Lovelace",
                "Email": email,
                "Address1": "1 Main Street",
                "City": "New York",
                "Zip": "10001",
                "CountryCode": "US",
            },
            "PaymentDetails": {"Type": "CC", "Currency": "usd"},
        }
        return ref_no

    def set_status(self, ref_no: str, status: str, approve_status: str = "OK") -> None:
        with self._state:
            self.orders[ref_no].update(Status=status, ApproveStatus=approve_status)

    def expire_sessions(self) -> None:
        with self._state:
            self._sessions = {sid: (merchant, 0.0) for sid, (merchant, _) in self._sessions.items()}

    def calls_to(self, operation: str) -> list[dict[str, Any]]:
        return [arguments for name, arguments in self.calls if name == operation]

    @property
    def wsdl_downloads(self) -> int:
        return sum(1 for r in self.requests if r.method == "GET" and r.path == SOAP_PATH)

    def placed_orders(self) -> list[dict[str, Any]]:
        return [order for order in self.orders.values() if order.get("ExternalReference")]

    # -- HTTP

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.path != SOAP_PATH:
            return FakeResponse(404, b"Not found", {"Content-Type": "text/plain"})
        if request.method == "GET":  # "?wsdl" (the base server's query parsing drops a bare flag)
            wsdl = self._template.replace("{location}", f"{self.base_url}{SOAP_PATH}")
            return FakeResponse(200, wsdl, {"Content-Type": "text/xml; charset=utf-8"})
        if request.method != "POST":
            return FakeResponse(405, b"Method not allowed", {"Content-Type": "text/plain"})
        if self.maintenance:
            return FakeResponse(503, b"<html>503 Service Unavailable</html>", {"Content-Type": "text/html"})
        try:
            operation, arguments = self._decode(request.body)
            with self._state:
                self.calls.append((operation, arguments))
                result = getattr(self, f"_op_{operation}")(**arguments)
        except SoapFault as fault:
            return _fault_response(fault)
        part_name, part_type = self.schema.outputs[operation]
        response = ET.Element(f"{{{ORDER_NS}}}{operation}Response")
        self.schema.write(response, part_name, part_type, result)
        return FakeResponse(200, _envelope(response), {"Content-Type": "text/xml; charset=utf-8"})

    def _decode(self, body: bytes) -> tuple[str, dict[str, Any]]:
        try:
            envelope = ET.fromstring(body)
        except ET.ParseError as exc:
            raise client_fault(f"Bad request: {exc}") from None
        soap_body = envelope.find(f"{{{SOAP_ENV}}}Body")
        if envelope.tag != f"{{{SOAP_ENV}}}Envelope" or soap_body is None or len(soap_body) == 0:
            raise client_fault("Not a SOAP 1.1 envelope.")
        call = soap_body[0]
        operation = _local(call.tag)
        if call.tag != f"{{{ORDER_NS}}}{operation}" or operation not in self.schema.inputs:
            raise client_fault(f"Procedure '{operation}' not present.")
        children = {_local(child.tag): child for child in call}
        arguments = {}
        for name, type_name in self.schema.inputs[operation]:
            if name not in children:
                raise client_fault(f"{operation}: parameter {name} is missing.")
            arguments[name] = self.schema.read(children[name], type_name, name)
        return operation, arguments

    # -- operations (called with the state lock held)

    def _op_login(self, merchantCode: str, date: str, hash: str, algo: str) -> str:
        # AUTHENTICATION_ERROR and its messages are invented: the document names no code.
        secret = self.merchants.get(merchantCode)
        try:
            sent_at = datetime.strptime(date, DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise SoapFault("AUTHENTICATION_ERROR", "Authentication failed: bad date format.") from None
        if abs(datetime.now(UTC) - sent_at) > self.login_clock_tolerance:
            raise SoapFault("AUTHENTICATION_ERROR", "Authentication failed: date out of range.")
        if secret is None or algo != "sha256" or not hmac.compare_digest(hash, login_hash(merchantCode, secret, date)):
            raise SoapFault("AUTHENTICATION_ERROR", "Authentication failed.")
        session_id = secrets.token_hex(16)
        self._sessions[session_id] = (merchantCode, time.monotonic() + self.session_lifetime)
        self.issued_sessions.append(session_id)
        return session_id

    def _check_session(self, session_id: str) -> None:
        """Checked first by every operation but login, before it acts on anything."""
        merchant_and_expiry = self._sessions.get(session_id)
        if merchant_and_expiry is None or time.monotonic() >= merchant_and_expiry[1]:
            raise SoapFault(*self.session_fault)

    def _op_isValidOrderReference(self, sessionID: str, RefNo: str) -> bool:
        self._check_session(sessionID)
        # Whether the reference may pay a new order: only AUTHRECEIVED or COMPLETE ones may.
        reference = self.orders.get(RefNo)
        return reference is not None and reference["Status"] in REFERENCE_STATUSES

    def _op_getOrder(self, sessionID: str, RefNo: str) -> dict[str, Any]:
        self._check_session(sessionID)
        if RefNo not in self.orders:
            raise SoapFault("INVALID_REFERENCE", f"Order reference {RefNo} not found.")  # invented code
        return self.orders[RefNo]

    def _op_placeOrder(self, sessionID: str, Order: dict[str, Any]) -> dict[str, Any]:
        self._check_session(sessionID)
        self._validate_order(Order)
        payment = Order["PaymentDetails"]
        reference = self.orders[payment["PaymentMethod"]["RefNo"]]
        status, approve_status = self.new_order_status
        now = datetime.now(UTC).strftime(DATE_FORMAT)
        ref_no = str(next(self._ref_numbers))
        self.orders[ref_no] = {
            **Order,
            "RefNo": ref_no,
            "Status": status,
            "ApproveStatus": approve_status,
            "OrderDate": now,
            "FinishDate": now if status == "COMPLETE" else None,
            "BillingDetails": reference["BillingDetails"],
            "PaymentDetails": {
                "Type": payment["Type"],
                "Currency": payment.get("Currency") or Order["Currency"],
                "PaymentMethod": {"RecurringEnabled": payment["PaymentMethod"].get("RecurringEnabled")},
            },
        }
        return self.orders[ref_no]

    def _validate_order(self, order: dict[str, Any]) -> None:
        for field in ("Currency", "Country"):
            if not order.get(field):
                raise client_fault(f"Order.{field} is required.")
        if len(order.get("ExternalReference") or "") > 100:
            raise client_fault("Order.ExternalReference is longer than 100 characters.")
        if not order["Items"]:
            raise SoapFault("ORDER_PRODUCTS_EMPTY", "No products have been provided.")
        for item in order["Items"]:
            if self.catalogue is not None and item["Code"] not in self.catalogue:
                raise SoapFault("ORDER_PRODUCT_CODE_INVALID", f"Requested product [{item['Code']}] was not found.")
            if not 1 <= item["Quantity"] <= MAX_ITEM_QUANTITY:
                raise SoapFault(
                    "ORDER_ITEMS_QUANTITY_INVALID", f"Item quantity must be between 1 and {MAX_ITEM_QUANTITY}."
                )
        payment = order.get("PaymentDetails")
        if not payment or payment["Type"] != "PREVIOUS_ORDER" or not (payment.get("PaymentMethod") or {}).get("RefNo"):
            raise client_fault("This fake only takes PaymentDetails.Type PREVIOUS_ORDER with PaymentMethod.RefNo.")
        reference = self.orders.get(payment["PaymentMethod"]["RefNo"])
        if reference is None or reference["Status"] not in REFERENCE_STATUSES:
            # Invented code and message: the document does not say what 2Checkout answers.
            raise SoapFault("INVALID_REFERENCE", "The order reference cannot be used for a new payment.")
        billing = order.get("BillingDetails") or {}
        if not billing.get("Email"):
            raise client_fault("Order.BillingDetails.Email is required.")
        if any(value for key, value in billing.items() if key != "Email") and not all(billing.values()):
            raise client_fault("Order.BillingDetails: give only the Email, or every billing field.")
        if billing["Email"] != reference["BillingDetails"]["Email"]:
            # "2Checkout checks whether the email addresses are identical": a different case or a
            # space is a mismatch too. Invented code and message: the document names none.
            raise SoapFault("EMAIL_MISMATCH", "The billing email does not match the referenced order.")

    def _op_searchOrders(self, sessionID: str, orderSearchOptions: dict[str, Any]) -> dict[str, Any]:
        self._check_session(sessionID)
        options = orderSearchOptions
        today = datetime.now(UTC).date()
        try:
            start = date.fromisoformat(options["StartDate"]) if options.get("StartDate") else today - timedelta(days=7)
            end = date.fromisoformat(options["EndDate"]) if options.get("EndDate") else today
        except ValueError:
            raise client_fault("StartDate and EndDate use the format Y-m-d.") from None
        found = [
            order
            for order in self.orders.values()
            if start <= datetime.strptime(order["OrderDate"], DATE_FORMAT).date() <= end
            and all(options.get(option) in (None, order.get(key)) for option, key in SEARCH_FILTERS)
        ]
        pagination = options.get("Pagination") or {}
        page = max(1, pagination.get("Page") or 1)
        limit = min(MAX_SEARCH_LIMIT, max(1, pagination.get("Limit") or 10))
        return {
            "Items": found[(page - 1) * limit : page * limit],
            "Pagination": {"Page": page, "Limit": limit, "Count": len(found)},
        }
