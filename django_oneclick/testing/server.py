"""A real HTTP server on 127.0.0.1 that the fake providers build on.

Each fake implements :meth:`FakeProviderServer.handle`; this class runs the server on a free
port in a background thread, records every request, and injects transport faults that no
provider documents but every client meets: a slow answer, a timeout *after* the request was
acted upon, a dropped connection, a malformed body, and a gateway's 503 *after* the request was
acted upon (a load balancer whose wait for the provider's answer ran out).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

#: Transport faults any fake can be told to produce.
FAULTS = ("slow", "timeout", "drop", "malformed", "gateway_error")
#: What nginx answers when its wait for the upstream's answer ran out (not well-formed XML).
GATEWAY_ERROR_PAGE = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class FakeResponse:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: For streamed answers (server-sent events): chunks written one by one, with a flush.
    stream: Iterable[bytes] | None = None

    def encoded_body(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        self.headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode()


def json_response(status: int, body: Any, **headers: str) -> FakeResponse:
    return FakeResponse(status, body, {"Content-Type": "application/json", **headers})


class FakeProviderServer:
    """Base of the fakes. Use as a context manager or call :meth:`start` / :meth:`stop`.

    ``fail_next(fault)`` makes the next request(s) meet a transport fault; ``requests`` holds
    every request received, for assertions.
    """

    #: Provider backend this fake imitates, and the registry name used by the demo.
    backend: ClassVar[str] = ""
    slow_seconds: float = 1.5
    hang_seconds: float = 5.0

    def __init__(self) -> None:
        self.requests: list[FakeRequest] = []
        self._faults: list[tuple[str, Callable[[FakeRequest], bool] | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what a fake implements

    def handle(self, request: FakeRequest) -> FakeResponse:
        raise NotImplementedError

    def provider_options(self) -> dict[str, Any]:
        """Options that point the provider at this fake (BASE_URL and test credentials)."""
        return {"BASE_URL": self.base_url}

    def demo_method(self) -> Any:
        """A :class:`~django_oneclick.providers.base.MethodDetails` for the demo user."""
        raise NotImplementedError

    # -- control

    def fail_next(
        self, fault: str, times: int = 1, *, when: Callable[[FakeRequest], bool] | None = None
    ) -> None:
        """Make the next request(s) meet ``fault``; ``when`` limits it to the requests it
        accepts (e.g. one SOAP operation), the others pass untouched."""
        if fault not in FAULTS:
            raise ValueError(f"Unknown fault {fault!r}; choose from {FAULTS}.")
        with self._lock:
            self._faults.extend([(fault, when)] * times)

    def _take_fault(self, request: FakeRequest) -> str | None:
        with self._lock:
            for index, (fault, when) in enumerate(self._faults):
                if when is None or when(request):
                    del self._faults[index]
                    return fault
            return None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("The fake server is not started.")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once: no delayed-ACK stalls

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- plumbing

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = FakeRequest(
            method=handler.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        try:
            response = self.handle(request)
        except Exception as exc:  # a bug in a fake must show, not hang the client
            response = json_response(500, {"fake_error": repr(exc)})
        if fault == "timeout":
            time.sleep(self.hang_seconds)
            return self._close(handler)
        if fault == "drop":
            return self._close(handler)
        if fault == "malformed":
            response = FakeResponse(response.status, b"<html>502 Bad Gateway", {"Content-Type": "application/json"})
        if fault == "gateway_error":
            response = FakeResponse(503, GATEWAY_ERROR_PAGE, {"Content-Type": "text/html"})
        self._write(handler, response)

    @staticmethod
    def _close(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, response: FakeResponse) -> None:
        handler.send_response(response.status)
        if response.stream is not None:
            for name, value in response.headers.items():
                handler.send_header(name, value)
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.close_connection = True
            for chunk in response.stream:
                handler.wfile.write(chunk)
                handler.wfile.flush()
            return
        body = response.encoded_body()
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def sse_events(events: Iterable[tuple[str, Any]], delay: float = 0.0) -> Iterator[bytes]:
    """Encode ``(event, data)`` pairs as server-sent events, pausing ``delay`` between them."""
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data)
        yield f"event: {name}\ndata: {payload}\n\n".encode()
        if delay:
            time.sleep(delay)
