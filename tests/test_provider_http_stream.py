"""HttpProvider.stream: one call answered by server-sent events, recorded like any other call
(each event in the exchange), its failures meaning what they mean for :meth:`request`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from django_oneclick.providers.base import InvalidRequest, OutcomeUnknown, ProviderUnavailable
from django_oneclick.providers.http import HttpProvider

SSE = {"content-type": "text/event-stream"}


class Log:
    def __init__(self):
        self.exchanges = []
        self.steps = []

    def record(self, exchange):
        self.exchanges.append(exchange)

    def progress(self, step):
        self.steps.append(step)


class Streaming(HttpProvider):
    """Answers every request with ``answer(request)`` (an httpx.Response), or raises it."""

    display_name = "Streamer"

    def __init__(self, answer):
        super().__init__("streamer", {"BASE_URL": "http://127.0.0.1"})
        self.answer = answer
        self.sent = []

    def transport(self):
        def handle(request):
            self.sent.append(request)
            return self.answer(request)

        return httpx.MockTransport(handle)


def events(*pairs, pause=0.0, then=None):
    """A body of server-sent events, ``pause`` seconds apart; ``then`` is raised after them."""
    for name, data in pairs:
        yield f"event: {name}\ndata: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
        time.sleep(pause)
    if then is not None:
        raise then


def until_done(event, seen):
    """The final event is ``done`` (its data is the result); ``fail`` raises."""
    if event.name == "done":
        return event.data
    if event.name == "fail":
        raise InvalidRequest(f"refused after {[e.name for e in seen]}")
    return None


def call(provider, log=None, *, safe_to_retry=False, deadline=5.0, **options):
    return provider.stream(
        log or Log(),
        "place",
        "POST",
        "/place",
        safe_to_retry=safe_to_retry,
        deadline=deadline,
        on_event=until_done,
        **{"headers": {"x-shop": "s"}, "json": {"item": 1}, **options},
    )


def test_each_event_is_recorded_and_shown_as_a_step_until_the_final_one():
    body = events(("started", {"n": 1}), ("noise", "not json"), ("done", {"id": "A-1"}), ("after", {}))
    provider = Streaming(lambda request: httpx.Response(200, headers=SSE, content=body))
    log = Log()

    result = call(provider, log, steps={"started": "working", "done": "finished"})

    assert result == {"id": "A-1"}
    assert log.steps == ["working", "finished"]
    (exchange,) = log.exchanges
    assert (exchange.operation, exchange.outcome, exchange.http_status) == ("place", "ok", 200)
    assert exchange.response["events"] == [
        {"event": "started", "data": {"n": 1}},
        {"event": "noise", "data": "not json"},
        {"event": "done", "data": {"id": "A-1"}},
    ]
    assert exchange.request["headers"] == {"x-shop": "s", "Accept": "text/event-stream"}
    assert exchange.request["json"] == {"item": 1}
    assert provider.sent[0].headers["accept"] == "text/event-stream"


def test_an_event_that_announces_an_error_raises_it_and_it_is_recorded():
    body = events(("started", {}), ("fail", {}))
    log = Log()

    with pytest.raises(InvalidRequest, match=r"\['started', 'fail'\]"):
        call(Streaming(lambda request: httpx.Response(200, headers=SSE, content=body)), log)

    assert log.exchanges[0].outcome == "invalid_request"
    assert [e["event"] for e in log.exchanges[0].response["events"]] == ["started", "fail"]


def test_a_plain_answer_goes_to_on_plain_and_an_error_status_means_what_it_means_for_request():
    plain = Streaming(lambda request: httpx.Response(200, json={"id": "B-2"}))
    assert call(plain, on_plain=lambda response: response.json()) == {"id": "B-2"}

    refused = Streaming(lambda request: httpx.Response(400, json={"error": "bad"}))
    log = Log()
    with pytest.raises(InvalidRequest):
        call(refused, log, on_plain=lambda response: response.json())
    assert log.exchanges[0].response["body"] == {"error": "bad"}
    assert log.exchanges[0].http_status == 400

    with pytest.raises(OutcomeUnknown, match="without an event stream"):
        call(plain)  # no on_plain: a plain answer is no answer to a call that may have charged


@pytest.mark.parametrize(("safe_to_retry", "error"), [(False, OutcomeUnknown), (True, ProviderUnavailable)])
def test_past_the_deadline_or_without_a_final_event_nothing_is_known(safe_to_retry, error):
    slow = events(("started", {}), ("still", {}), ("done", {}), pause=0.15)
    provider = Streaming(lambda request: httpx.Response(200, headers=SSE, content=slow))
    with pytest.raises(error, match=r"did not finish within 0.1 s \(STREAM_DEADLINE\)"):
        call(provider, safe_to_retry=safe_to_retry, deadline=0.1, deadline_option="STREAM_DEADLINE")

    cut = Streaming(lambda request: httpx.Response(200, headers=SSE, content=events(("started", {}))))
    with pytest.raises(error, match="ended before its final event"):
        call(cut, safe_to_retry=safe_to_retry)


@pytest.mark.parametrize(
    ("failure", "safe_to_retry", "error"),
    [
        (httpx.ConnectError("refused"), False, ProviderUnavailable),  # nothing was sent
        (httpx.ReadTimeout("slow"), False, OutcomeUnknown),
        (httpx.ReadTimeout("slow"), True, ProviderUnavailable),
    ],
)
def test_transport_failures_mean_what_they_mean_for_request(failure, safe_to_retry, error):
    def fail(request):
        raise failure

    log = Log()
    with pytest.raises(error):
        call(Streaming(fail), log, safe_to_retry=safe_to_retry)
    assert log.exchanges[0].outcome == error.code


def test_a_connection_lost_in_the_middle_of_the_stream_leaves_the_outcome_unknown():
    body = events(("started", {}), then=httpx.ReadError("connection reset"))
    log = Log()

    with pytest.raises(OutcomeUnknown, match="after sending"):
        call(Streaming(lambda request: httpx.Response(200, headers=SSE, content=body)), log, steps={"started": "w"})

    assert log.steps == ["w"]
    assert log.exchanges[0].response["events"] == [{"event": "started", "data": {}}]


def test_the_core_imports_without_the_streaming_and_card_libraries():
    """httpx-sse and jwcrypto belong to the firmly extra: nothing else imports them."""
    code = (
        "import sys; sys.modules['httpx_sse'] = sys.modules['jwcrypto'] = None\n"
        "import django_oneclick.providers.http, django_oneclick.providers.registry\n"
        "import django_oneclick.providers.rye, django_oneclick.providers.billerix\n"
        "import django_oneclick.providers.digitalriver\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
