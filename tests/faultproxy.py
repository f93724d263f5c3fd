"""A fault-injecting HTTP reverse proxy for testing clients against flaky servers.

Put it in front of a real server (fake-gcs-server in our tests) and point the client at
the proxy. It forwards requests unchanged, except that requests selected by the fault
plan are answered by the proxy itself with an error status (429, 503, ...) or by
closing the connection without any response (:data:`DROP`), which is what throttling,
overloaded backends and broken connections look like to a client.

The plan is either "the first N matching requests" or "a seeded random fraction of
them", and every request is recorded (time, method, path, status, body head) so a test can count
what reached the server. Each request is forwarded on a fresh upstream connection and
``Location`` headers are rewritten to the proxy, so resumable-upload sessions also stay
behind it. HTTP/1.1 keep-alive is supported towards the client, as real clients pool
connections.
"""

from __future__ import annotations

import http.client
import random
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

DROP = 0
"""Fault status meaning: close the connection without sending a response."""

BODY_RECORD_LIMIT = 4096

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore clients hanging up (pooled connections closed at exit); report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Exchange:
    """One request seen by the proxy; ``faulted`` when the proxy answered it itself."""

    at: float
    method: str
    path: str
    status: int
    faulted: bool
    body: bytes  # the first BODY_RECORD_LIMIT bytes of the request body


def always(method: str, path: str) -> bool:
    """Fault-plan filter matching every request."""
    return True


class FaultProxy:
    """Reverse proxy on a loopback port in front of ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or parsed.hostname is None:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self._upstream_host = parsed.hostname
        self._upstream_port = parsed.port or 80
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._fail_first = 0
        self._fail_rate = 0.0
        self._statuses: tuple[int, ...] = (503,)
        self._matches: Callable[[str, str], bool] = always
        self._random = random.Random(0)
        self._faults_served = 0
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the proxy."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(
        self,
        *,
        fail_first: int = 0,
        fail_rate: float = 0.0,
        statuses: tuple[int, ...] = (503,),
        matches: Callable[[str, str], bool] = always,
        seed: int = 0,
    ) -> None:
        """Set the fault plan for requests for which ``matches(method, path)`` holds.

        The next ``fail_first`` of them fail, then each fails with probability
        ``fail_rate``. Faults cycle through ``statuses`` (use :data:`DROP` for a closed
        connection). Calling it again replaces the plan.
        """
        if not statuses:
            raise ValueError("statuses must not be empty")
        with self._lock:
            self._fail_first = fail_first
            self._fail_rate = fail_rate
            self._statuses = statuses
            self._matches = matches
            self._random = random.Random(seed)
            self._faults_served = 0

    def heal(self) -> None:
        """Stop injecting faults; forward everything from now on."""
        self.inject()

    def exchanges(self, matches: Callable[[str, str], bool] = always) -> list[Exchange]:
        """The requests recorded so far (optionally filtered), oldest first."""
        with self._lock:
            return [e for e in self._exchanges if matches(e.method, e.path)]

    def _choose_fault(self, method: str, path: str) -> int | None:
        with self._lock:
            if not self._matches(method, path):
                return None
            if self._fail_first > 0:
                self._fail_first -= 1
            elif not (self._fail_rate and self._random.random() < self._fail_rate):
                return None
            status = self._statuses[self._faults_served % len(self._statuses)]
            self._faults_served += 1
            return status

    def _record(self, method: str, path: str, status: int, faulted: bool, body: bytes) -> None:
        exchange = Exchange(
            time.monotonic(), method, path, status, faulted, body[:BODY_RECORD_LIMIT]
        )
        with self._lock:
            self._exchanges.append(exchange)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=60)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            out_headers = []
            for name, value in resp.getheaders():
                if name.lower() in _HOP_BY_HOP:
                    continue
                if name.lower() == "location":
                    value = value.replace(self.upstream, self.url)
                out_headers.append((name, value))
            return resp.status, resp.reason, out_headers, data
        finally:
            conn.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._choose_fault(self.command, self.path)
                if fault == DROP:
                    proxy._record(self.command, self.path, DROP, True, body)
                    self.close_connection = True
                    return
                if fault is not None:
                    payload = b'{"error": {"code": %d, "message": "injected fault"}}' % fault
                    proxy._record(self.command, self.path, fault, True, body)
                    self._reply(
                        fault, "Injected Fault", [("Content-Type", "application/json")], payload
                    )
                    return
                try:
                    status, reason, headers, data = proxy._forward(
                        self.command, self.path, list(self.headers.items()), body
                    )
                except OSError as err:
                    status, reason, headers = 502, "Bad Gateway", []
                    data = f"upstream error: {err}".encode()
                proxy._record(self.command, self.path, status, False, body)
                self._reply(status, reason, headers, data)

            def _reply(
                self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes
            ) -> None:
                self.send_response(status, reason)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: object) -> None:
                """Silence the default per-request stderr logging."""

        return Handler

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
