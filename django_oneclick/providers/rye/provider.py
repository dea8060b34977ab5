"""Rye Universal Checkout: buy a product by its URL through an asynchronous checkout intent.

``POST /api/v1/checkout-intents/purchase`` answers at once with an intent in
``retrieving_offer``; Rye then retrieves the offer, pays and places the order on its own, and
``GET /api/v1/checkout-intents/{id}`` shows the intent move on until ``completed`` or ``failed``.
So a purchase ends ``processing`` and the background refresh (``django_oneclick.tasks``) or a
customer's status read brings it to its final state.

The client is written on :class:`HttpProvider`, not on Rye's ``checkout-intents`` SDK: the SDK
retries a timed-out purchase by itself and raises its own errors, while every call here must be
recorded, redacted and mapped like every other provider's (docs/providers/rye.md says more).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.messages import CORE_MESSAGES
from django_oneclick.providers.base import (
    AuthenticationFailed,
    Buyer,
    ExchangeLog,
    InvalidRequest,
    NotFound,
    OrderNotFound,
    OutcomeUnknown,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    ProviderUnavailable,
    PurchaseRequest,
    StatusRequest,
    buyer_problems,
    option,
)
from django_oneclick.providers.http import HttpOptions, HttpProvider, retry_after_seconds
from django_oneclick.providers.rye.words import FAILURE_MESSAGES, INTENT_STEPS

STAGING_BASE_URL = "https://staging.api.rye.com"
PRODUCTION_BASE_URL = "https://api.rye.com"
INTENTS_PATH = "/api/v1/checkout-intents"
PURCHASE_PATH = f"{INTENTS_PATH}/purchase"

#: Saved-method ``data["type"]`` -> the body field that carries the saved reference (the token).
TOKEN_FIELDS = {
    "stripe_token": "stripeToken",
    "basis_theory_token": "basisTheoryToken",
    "prava_token": "pravaToken",
    "nekuda_token": "nekudaUserId",
}
#: Payment types that carry no token: Rye draws on the developer's balance, or on x402 crypto.
TOKENLESS_TYPES = ("drawdown", "x402")
X402_NETWORKS = ("base", "solana", "tempo")

PROMO_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_PROMO_CODES = 16
US_POSTAL_CODE = re.compile(r"^\d{5}(-\d{4})?$")
INT32_MAX = 2**31 - 1
LIST_PAGE_SIZE = 100


@dataclass(frozen=True)
class RyeOptions(HttpOptions):
    API_KEY: str = option(required=True, secret=True)
    #: Staging by default: a shop goes to production by setting the URL and a production key together.
    BASE_URL: str = STAGING_BASE_URL
    #: Pages of 100 intents read to find an order whose purchase answer was lost.
    LOOKUP_PAGES: int = option(5, minimum=1)


class RyeProvider(HttpProvider):
    """The purchase caps Rye's all-in total (``constraints.maxTotalPrice``) at the order's ``max_total``:
    what the button showed, the offer's allowance for shipping and tax included."""

    display_name = "Rye"
    options_class = RyeOptions
    options: RyeOptions
    sensitive_keys = ("nekudaUserId", "nekudaMandateData")
    requires_buyer = True
    customer_messages = {
        **{f"rye_{reason}": message for reason, message in FAILURE_MESSAGES.items()},
        "rye_intent_ambiguous": CORE_MESSAGES[ErrorCode.NEEDS_OPERATOR],
    }
    progress_steps = INTENT_STEPS

    # -- the purchase

    def prepare(self, request: PurchaseRequest) -> None:
        self.purchase_body(request)

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        headers = {**self._headers(), "Idempotency-Key": request.order_id}
        body = self.purchase_body(request)
        response = self.request(log, "purchase", "POST", PURCHASE_PATH, safe_to_retry=False, json=body, headers=headers)
        intent = self.json_body(response, safe_to_retry=False)
        if not intent.get("id"):
            raise OutcomeUnknown("Rye accepted the purchase but its answer names no checkout intent.")
        return self.result_for(intent)

    def purchase_body(self, request: PurchaseRequest) -> dict[str, Any]:
        """The documented purchase body; :class:`InvalidRequest` for what Rye would refuse."""
        problems: list[str] = []
        if request.currency != "USD":
            problems.append(f"Rye sells in US dollars only; this product is priced in {request.currency}.")
        url = urlsplit(request.product_id)
        if url.scheme not in ("http", "https") or not url.netloc:
            problems.append("This product has no Rye product URL (its Rye product id must be its URL).")
        if not 1 <= request.quantity <= INT32_MAX:
            problems.append("Choose a quantity of at least 1.")
        # The cap is what the button showed: the total plus the offer's shipping-and-tax allowance.
        # Rye compares it with the offer's all-in ``cost.total``. Its document gives the int32 no
        # unit; read as subunits like every ``Money`` (``amountSubunits``), which its examples fit
        # (100000, and 500 for shipping: $1,000.00, $5.00). Rounded down: never above the shown price.
        cap = request.total if request.max_total is None else request.max_total
        max_total = int((cap * 100).to_integral_value(rounding=ROUND_DOWN))
        if not 0 < max_total <= INT32_MAX:
            problems.append("The order total is out of the range Rye accepts.")
        promo_codes = request.options.get("promo_codes") or []
        if (
            not isinstance(promo_codes, list | tuple)
            or len(promo_codes) > MAX_PROMO_CODES
            or not all(isinstance(code, str) and PROMO_CODE.fullmatch(code) for code in promo_codes)
        ):
            problems.append(
                f"Send promo_codes as a list of at most {MAX_PROMO_CODES} promo codes of letters, "
                "digits, '_' and '-' (32 characters at most)."
            )
        problems += rye_buyer_problems(request.buyer)
        payment_method, payment_problem = payment_method_body(request.method.reference, request.method.data)
        if payment_problem:
            problems.append(payment_problem)
        buyer = request.buyer
        if problems or buyer is None:
            raise InvalidRequest.for_customer(" ".join(problems))
        body: dict[str, Any] = {
            "buyer": buyer.wire(BUYER_KEYS),
            "productUrl": request.product_id,
            "quantity": request.quantity,
            "paymentMethod": payment_method,
            "constraints": {"maxTotalPrice": max_total},
            "referenceId": request.order_id,
        }
        if promo_codes:
            body["promoCodes"] = list(promo_codes)
        return body

    # -- where an order stands

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        if not request.provider_order_id:
            return self.result_for(self.find_intent(request, log))
        try:
            response = self.request(
                log,
                "fetch_status",
                "GET",
                f"{INTENTS_PATH}/{quote(request.provider_order_id, safe='')}",
                safe_to_retry=True,
                headers=self._headers(),
            )
        except NotFound as exc:  # Rye states it has no intent with this id
            raise OrderNotFound(exc.message) from exc
        return self.result_for(self.json_body(response, safe_to_retry=True))

    def find_intent(self, request: StatusRequest, log: ExchangeLog) -> dict[str, Any]:
        """The intent of an order whose purchase answer was lost, found in Rye's list by its
        ``referenceId`` (our order id). Not found is "never placed" only once the whole list
        since the order was read, ``NOT_FOUND_AFTER`` (at least the purchase timeout) has passed,
        and no intent without a reference was created meanwhile; anything less is left to an operator."""
        unreferenced: list[str] = []
        complete = False
        for intents, is_last in self._intent_pages(log, since=request.created_at - self.clock_skew):
            complete = is_last
            for intent in intents:
                if intent.get("referenceId") == request.order_id:
                    return intent
                if not intent.get("referenceId") and self.placed_during_purchase(
                    request, str(intent.get("createdAt"))
                ):
                    unreferenced.append(str(intent.get("id")))
        if unreferenced:
            raise OutcomeUnknown(
                f"No Rye checkout intent has referenceId {request.order_id}, but some without one "
                f"were created meanwhile ({', '.join(unreferenced)}): an operator must check.",
                code="rye_intent_ambiguous",
            )
        raise self.missing_order(
            request, f"checkout intent with referenceId {request.order_id}", records_complete=complete
        )

    def _intent_pages(
        self, log: ExchangeLog, *, since: datetime
    ) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """Pages of Rye's list of intents, each with whether it ends the list: no next page,
        or a list sorted newest first that reached back before ``since``."""
        params: dict[str, Any] = {"limit": LIST_PAGE_SIZE}
        for _page in range(self.options.LOOKUP_PAGES):
            try:
                response = self.request(
                    log,
                    "find_intent",
                    "GET",
                    INTENTS_PATH,
                    safe_to_retry=True,
                    params=params,
                    headers=self._headers(),
                )
            except NotFound as exc:  # the list itself is missing: says nothing of our order
                raise ProviderUnavailable(exc.message) from exc
            page = self.json_body(response, safe_to_retry=True)
            if not isinstance(page.get("data"), list):
                raise ProviderUnavailable("Rye's list of checkout intents has no 'data' list.")
            intents = [intent for intent in page["data"] if isinstance(intent, dict)]
            stamps = [_timestamp(intent.get("createdAt")) for intent in intents]
            created = [stamp for stamp in stamps if stamp is not None]
            newest_first = len(created) == len(stamps) and created == sorted(created, reverse=True)
            page_info = page.get("pageInfo") or {}
            cursor = page_info.get("endCursor") if page_info.get("hasNextPage") else None
            last = not cursor or (newest_first and bool(created) and created[-1] < since)
            yield intents, last
            if last:
                return
            params = {"limit": LIST_PAGE_SIZE, "after": cursor}

    @staticmethod
    def result_for(intent: Mapping[str, Any]) -> ProviderResult:
        """Map an intent's ``state`` onto our statuses."""
        intent_id = str(intent.get("id") or "")
        state = str(intent.get("state") or "")
        if state == "completed":
            order_id = str(intent.get("orderId") or intent_id)
            return ProviderResult(
                ProviderStatus.COMPLETED, order_id, progress=state, charged_total=_offer_total(intent)
            )
        if state == "failed":
            reason = intent.get("failureReason") or {}
            code = (
                str(reason.get("code") or "unknown") if isinstance(reason, Mapping) else "unknown"
            )
            said = str(reason.get("message") or "") if isinstance(reason, Mapping) else ""
            return ProviderResult(
                ProviderStatus.FAILED,
                intent_id,
                progress=state,
                # The customer reads the catalogue's words for the code (a new code: the generic ones).
                error_code=f"rye_{code}"[:100],
                error_message=f"Rye failed checkout intent {intent_id}: {code}" + (f": {said}" if said else "."),
            )
        if state == "requires_action":
            return ProviderResult(
                ProviderStatus.REQUIRES_ACTION,
                intent_id,
                next_action=intent.get("nextAction") or {},
                progress=state,
            )
        return ProviderResult(ProviderStatus.PROCESSING, intent_id, progress=state[:50])

    # -- errors

    def error_for_response(
        self, response: httpx.Response, body: Any, *, safe_to_retry: bool
    ) -> ProviderError | None:
        """Rye's documented error bodies ``{name, message}`` (422 adds ``fields``). Field values
        are left out: Rye echoes them, tokens included. Other answers keep the base meaning."""
        status = response.status_code
        name, message, fields = _error_parts(body)
        detail = f"Rye answered HTTP {status} {name}: {message}" + (
            f" ({fields})" if fields else ""
        )
        detail = self.redactor.text(detail)
        if status == 401:
            return AuthenticationFailed(detail)
        if status == 422:
            return InvalidRequest(detail)
        if status == 404:
            return NotFound(detail)
        if status == 503 and name == "AmazonUnavailableError":
            # Rye's documented refusal: its own application declined before acting.
            return ProviderUnavailable(detail, retry_after=retry_after_seconds(response))
        return None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.API_KEY}", "Accept": "application/json"}


# --- the purchase body's parts ----------------------------------------------------------------


def rye_buyer_problems(buyer: Buyer | None) -> list[str]:
    """What Rye would refuse in the buyer: the common checks, plus a US address and ZIP code."""
    problems = buyer_problems(buyer)
    if buyer is None:
        return problems
    if buyer.country and buyer.country != "US":
        problems.append("Rye ships to addresses in the United States only.")
    if buyer.postal_code and buyer.country == "US" and not US_POSTAL_CODE.match(buyer.postal_code):
        problems.append("Enter a US ZIP code such as 10001 or 10001-1234.")
    return problems


#: Our buyer's fields -> Rye's buyer keys.
BUYER_KEYS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "province": "province",
    "postal_code": "postalCode",
    "country": "country",
}


def payment_method_body(reference: str, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The ``paymentMethod`` for a saved method (``data["type"]`` picks the kind, the reference
    is the token), or a problem to report."""
    kind = str(data.get("type") or "")
    if kind in TOKEN_FIELDS:
        if not reference:
            return {}, "The saved payment method has no token; add it again."
        body: dict[str, Any] = {"type": kind, TOKEN_FIELDS[kind]: reference}
        if kind == "nekuda_token" and data.get("nekudaMandateData"):
            body["nekudaMandateData"] = dict(data["nekudaMandateData"])
        return body, ""
    if kind == "drawdown":
        return {"type": kind}, ""
    if kind == "x402":
        if data.get("network") not in X402_NETWORKS:
            return {}, f"An x402 payment method needs a network: one of {', '.join(X402_NETWORKS)}."
        return {"type": kind, "network": data["network"]}, ""
    known = ", ".join([*TOKEN_FIELDS, *TOKENLESS_TYPES])
    return {}, f"This payment method cannot be used with Rye (its type must be one of: {known})."


# --- reading Rye's answers --------------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _error_parts(body: Any) -> tuple[str, str, str]:
    """``name``, ``message`` and the 422 ``fields`` messages (never their values)."""
    if not isinstance(body, Mapping):
        return "Error", str(body or "")[:200], ""
    fields = body.get("fields")
    described = (
        "; ".join(
            f"{field}: {detail.get('message', 'invalid')}"
            if isinstance(detail, Mapping)
            else str(field)
            for field, detail in fields.items()
        )
        if isinstance(fields, Mapping)
        else ""
    )
    return str(body.get("name") or "Error"), str(body.get("message") or ""), described


def _offer_total(intent: Mapping[str, Any]) -> Decimal | None:
    """What Rye charged: the offer's all-in ``cost.total`` (USD subunits), if it is readable."""
    offer = intent.get("offer")
    cost = offer.get("cost") if isinstance(offer, Mapping) else None
    total = cost.get("total") if isinstance(cost, Mapping) else None
    subunits = total.get("amountSubunits") if isinstance(total, Mapping) else None
    if not isinstance(subunits, int) or isinstance(subunits, bool) or subunits < 0:
        return None
    return Decimal(subunits) / 100
