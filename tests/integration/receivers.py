"""Real HTTP receivers for delivery tests: they record every request and answer from a script.

A :class:`Receiver` is a ``ThreadingHTTPServer`` on a free loopback port, in a background
thread. Each request is recorded (method, path, headers, raw and JSON body, arrival time)
*before* it is answered, so once a client's request returned or timed out, it is counted.
Answers come from a script, one per request in arrival order, then from the default::

    with Receiver(responses=[Reply(429, headers={"Retry-After": "1"}), 500], default=200) as rx:
        ...  # deliver
        rx.wait_for(3, timeout=5)
        assert len(rx.requests) == 3

``Reply(hang=30)`` holds the request without answering (to provoke client timeouts); stopping
the receiver releases hung handlers at once, so shutdown never waits for them.

In a test module, ``receiver = receiver_fixture()`` defines a fixture named ``receiver`` that
is a factory: ``rx = receiver(responses=[...])`` starts one, and all are stopped after the test.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status, a body (bytes, str, or JSON-able), headers, or a hang."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: float | None = None  # seconds to hold the request before answering

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            data = self.body
        elif isinstance(self.body, str):
            data = self.body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = json.dumps(self.body).encode()
            headers.setdefault("Content-Type", "application/json")
        return data, headers


def as_reply(value: Reply | int) -> Reply:
    return value if isinstance(value, Reply) else Reply(status=value)


@dataclass(frozen=True)
class Request:
    """One request as the receiver got it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrived_at: float  # time.monotonic()

    @property
    def json(self) -> Any:
        """The body parsed as JSON (raises if it is not JSON)."""
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close() does not join handler threads
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.receiver._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.receiver._closed(self.connection)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        reply = receiver._record(
            Request(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                arrived_at=time.monotonic(),
            )
        )
        if reply.hang is not None and receiver._stopping.wait(reply.hang):
            self.close_connection = True
            return  # stopping: drop the request unanswered
        data, headers = reply.encoded()
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timed out) and closed the connection
            self.close_connection = True

    do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean; requests are recorded instead


class Receiver:
    """A scripted HTTP receiver on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        responses: Iterable[Reply | int] = (),
        default: Reply | int = 200,
        host: str = "127.0.0.1",
    ) -> None:
        self._script = [as_reply(r) for r in responses]
        self._default = as_reply(default)
        self._host = host
        self._requests: list[Request] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Receiver:
        if self._server is not None:
            return self
        server = _Server((self._host, 0), _Handler)
        server.receiver = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; release hung handlers and close open connections at once."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the receiver is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:41234`` (append any path)."""
        return f"http://{self._host}:{self.port}"

    # -- scripting -------------------------------------------------------------------------
    def program(
        self, responses: Iterable[Reply | int] = (), default: Reply | int | None = None
    ) -> None:
        """Replace the script (and the default): e.g. let a failing receiver recover."""
        with self._cond:
            self._script = [as_reply(r) for r in responses]
            if default is not None:
                self._default = as_reply(default)

    # -- what arrived ----------------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        with self._cond:
            return list(self._requests)

    def bodies(self) -> list[Any]:
        """The JSON bodies of all requests so far, in arrival order."""
        return [r.json for r in self.requests]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Block until at least ``count`` requests arrived; AssertionError after ``timeout``."""
        with self._cond:
            arrived = self._cond.wait_for(lambda: len(self._requests) >= count, timeout)
            requests = list(self._requests)
        if not arrived:
            raise AssertionError(
                f"expected {count} requests within {timeout}s, got {len(requests)}: "
                + ", ".join(f"{r.method} {r.path}" for r in requests)
            )
        return requests

    # -- called by handler threads ---------------------------------------------------------
    def _record(self, request: Request) -> Reply:
        with self._cond:
            self._requests.append(request)
            reply = self._script.pop(0) if self._script else self._default
            self._cond.notify_all()
        return reply

    def _opened(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.add(conn)

    def _closed(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.discard(conn)


def receiver_fixture() -> Callable[[], Iterator[Callable[..., Receiver]]]:
    """A pytest fixture (assign it to a module-level name) whose value starts receivers.

    ``receiver = receiver_fixture()`` in a test module, then in a test:
    ``rx = receiver(responses=[500], default=200)``; every receiver is stopped after the test.
    """

    @pytest.fixture
    def fixture() -> Iterator[Callable[..., Receiver]]:
        started: list[Receiver] = []

        def make(*args: Any, **kwargs: Any) -> Receiver:
            rx = Receiver(*args, **kwargs).start()
            started.append(rx)
            return rx

        yield make
        for rx in started:
            rx.stop()

    return fixture
