"""The shared provider helpers: what an HTTP error status means, the cached credential, and the
verdict on an order missing from a provider's records."""

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from django_oneclick.providers.base import (
    AuthenticationFailed,
    CachedCredential,
    InvalidRequest,
    OrderNotFound,
    OutcomeUnknown,
    Provider,
    ProviderUnavailable,
    SavedMethod,
    StatusRequest,
)
from django_oneclick.providers.http import HttpProvider


def _error(status, *, safe_to_retry, **headers):
    response = httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://127.0.0.1/x"))
    return HttpProvider("http", {}).error_for_status(response, None, safe_to_retry=safe_to_retry)


@pytest.mark.parametrize(
    ("status", "safe_to_retry", "expected"),
    [
        (503, False, OutcomeUnknown),  # a gateway may answer 503 after forwarding the call
        (502, False, OutcomeUnknown),
        (500, False, OutcomeUnknown),
        (503, True, ProviderUnavailable),
        (500, True, ProviderUnavailable),
        (429, False, ProviderUnavailable),  # only a 429 proves nothing was done
        (429, True, ProviderUnavailable),
        (401, False, AuthenticationFailed),
        (400, False, InvalidRequest),
    ],
)
def test_what_an_error_status_means(status, safe_to_retry, expected):
    assert type(_error(status, safe_to_retry=safe_to_retry)) is expected


def test_a_retryable_server_error_keeps_the_servers_hint():
    assert _error(503, safe_to_retry=True, **{"Retry-After": "9"}).retry_after == 9
    assert _error(429, safe_to_retry=False, **{"Retry-After": "4"}).retry_after == 4


def test_the_hook_learns_whether_the_call_may_have_charged():
    seen = []

    class Recording(HttpProvider):
        def error_for_response(self, response, body, *, safe_to_retry):
            seen.append(safe_to_retry)

    response = httpx.Response(503, request=httpx.Request("GET", "http://127.0.0.1/x"))
    Recording("http", {}).error_for_status(response, None, safe_to_retry=False)
    assert seen == [False]


# --- the cached credential -----------------------------------------------------------------------


class _Issuer:
    """Hands out numbered credentials, slowly, and counts the fetches."""

    def __init__(self, usable_for=60.0):
        self.usable_for = usable_for
        self.previous = []

    def __call__(self, previous):
        self.previous.append(previous)
        time.sleep(0.05)
        return f"credential-{len(self.previous)}", self.usable_for


def test_the_credential_is_fetched_once_for_concurrent_callers():
    credential, issuer = CachedCredential(), _Issuer()
    values = []
    threads = [threading.Thread(target=lambda: values.append(credential.get(issuer))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert values == ["credential-1"] * 8
    assert issuer.previous == [""]


def test_the_credential_is_renewed_once_its_time_is_up_with_the_expired_value():
    credential, issuer = CachedCredential(), _Issuer(usable_for=0.1)
    assert credential.get(issuer) == "credential-1"
    assert credential.get(issuer) == "credential-1"
    time.sleep(0.15)
    assert credential.get(issuer) == "credential-2"
    assert issuer.previous == ["", "credential-1"]


def test_invalidating_an_already_replaced_value_keeps_the_new_one():
    credential, issuer = CachedCredential(), _Issuer()
    first = credential.get(issuer)
    credential.invalidate(first)
    second = credential.get(issuer)
    credential.invalidate(first)  # a late caller that also saw the first one rejected
    assert credential.get(issuer) == second == "credential-2"


def test_a_rejected_credential_is_renewed_and_the_call_sent_once_more_only():
    credential, issuer = CachedCredential(), _Issuer()
    sent = []

    def send(value):
        sent.append(value)
        raise AuthenticationFailed("rejected")

    with pytest.raises(AuthenticationFailed):
        credential.call(issuer, send)
    assert sent == ["credential-1", "credential-2"]


def test_other_errors_are_not_retried():
    credential, issuer = CachedCredential(), _Issuer()
    sent = []

    def send(value):
        sent.append(value)
        raise OutcomeUnknown("no answer")

    with pytest.raises(OutcomeUnknown):
        credential.call(issuer, send)
    assert sent == ["credential-1"]


# --- an order missing from the provider's records ------------------------------------------------


def _missing(minutes_ago, *, complete, **options):
    request = StatusRequest("order-1", "", SavedMethod("m"), datetime.now(UTC) - timedelta(minutes=minutes_ago))
    return Provider("p", options).missing_order(request, "order order-1", records_complete=complete)


def test_a_missing_order_was_never_placed_only_after_the_wait_in_complete_records():
    assert isinstance(_missing(11, complete=True), OrderNotFound)
    assert isinstance(_missing(9, complete=True), OutcomeUnknown)
    assert isinstance(_missing(11, complete=False), OutcomeUnknown)
    assert isinstance(_missing(1, complete=True, NOT_FOUND_AFTER=30), OrderNotFound)
