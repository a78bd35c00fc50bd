"""Request limits: the body size (413) and the scoring rate per client (429)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024


class BodyTooLarge(Exception):
    """The request body went past the limit while it was being read."""


def body_limit_message(max_bytes: int) -> str:
    """
    Examples
    --------
    >>> body_limit_message(32 * 1024 * 1024)
    'the request body is over the limit of 33554432 bytes (32 MiB, ANOMALY_MAX_BODY_BYTES); send fewer records per request'
    >>> body_limit_message(65536)[:57]
    'the request body is over the limit of 65536 bytes (64 KiB'
    """
    size = f"{max_bytes / MIB:g} MiB" if max_bytes >= MIB else f"{max_bytes / 1024:g} KiB"
    return (
        f"the request body is over the limit of {max_bytes} bytes ({size}, "
        "ANOMALY_MAX_BODY_BYTES); send fewer records per request"
    )


class BodyLimitMiddleware:
    """Answer 413 to a body over ``max_bytes`` without reading it whole.

    A declared ``Content-Length`` over the limit is refused before any of the body is read (and,
    for a client that sent ``Expect: 100-continue``, before it is sent). A chunked body is counted
    as it streams and the request is abandoned at the first chunk past the limit; whatever the
    application answered to the interrupted read is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the interrupted read; the 413 goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps({"detail": body_limit_message(self.max_bytes)})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class TokenBuckets:
    """One token bucket per client: ``burst`` requests at once, refilled at ``rate`` per second.

    The clock is injectable. At most ``max_clients`` buckets are kept; the least recently used
    goes first (it would be full again by then, or nearly).

    Examples
    --------
    >>> now = [0.0]
    >>> buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    >>> [buckets.take("a") for _ in range(3)]
    [0.0, 0.0, 0.5]
    >>> buckets.take("b")
    0.0
    >>> now[0] = 0.5
    >>> buckets.take("a")
    0.0
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Spend one token of ``client``'s bucket: 0.0 when there was one, else the seconds
        until there is (and nothing is spent)."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> int:
    """Whole seconds for a ``Retry-After`` header: rounded up, at least 1.

    Examples
    --------
    >>> retry_after(0.01), retry_after(1.0), retry_after(2.2)
    (1, 1, 3)
    """
    return max(1, math.ceil(wait - 1e-9))
