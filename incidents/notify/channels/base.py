"""The channel interface, the delivery result, and the one HTTP policy every channel shares.

A channel turns an incident event (the JSON document published on the alerts topic, with an
``event`` of ``open``, ``update`` or ``resolve``) into one HTTP request and reports a
:class:`DeliveryResult` that says whether a failure is worth retrying, as Alertmanager's notifiers
do. The policy (:func:`classify_response`, :func:`post_json`):

- 2xx is delivered;
- 429 and 5xx are retryable, and ``Retry-After`` (seconds or an HTTP-date) is parsed;
- timeouts and connection errors are retryable (the receiver may have got the request, so
  receivers dedup on the incident's ``dedup_key`` or the webhook's ``Idempotency-Key``);
- any other status (other 4xx, and 3xx: redirects are not followed) is final.

Every ``detail`` passes through the channel's :class:`~incidents.redact.Redactor`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, runtime_checkable

import httpx

from incidents.redact import Redactor

EVENT_KINDS = ("open", "update", "resolve")

# How much of a response body goes into a result's detail (after redaction).
DETAIL_BODY_CHARS = 200
_READ_LIMIT = 4096


class ChannelConfigError(ValueError):
    """A channel setting is missing or malformed. The message names the setting, never its value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DeliveryResult:
    """What one delivery attempt did.

    ``ok``: delivered (or deliberately skipped, ``status`` None and ``detail`` ``"skipped: ..."``).
    ``retryable``: a failure worth retrying. ``status``: the HTTP status, None without a response.
    ``retry_after``: seconds the receiver asked to wait, when it said. ``detail``: redacted text.
    """

    ok: bool
    retryable: bool
    status: int | None
    retry_after: float | None
    detail: str

    @classmethod
    def skipped(cls, reason: str) -> DeliveryResult:
        """The result for an event the channel does not send.

        >>> DeliveryResult.skipped("pagerduty does not send update events")
        DeliveryResult(ok=True, retryable=False, status=None, retry_after=None, detail='skipped: pagerduty does not send update events')
        """
        return cls(
            ok=True, retryable=False, status=None, retry_after=None, detail=f"skipped: {reason}"
        )

    @property
    def was_skipped(self) -> bool:
        return self.ok and self.status is None and self.detail.startswith("skipped:")


@runtime_checkable
class Channel(Protocol):
    """A destination for incident events (PagerDuty, Slack, a webhook, Alertmanager).

    ``min_interval``: the least time, in seconds, between two requests to one target (the
    receiver's rate limit; 0 for none). The dispatcher keeps it, so a channel never sleeps.
    """

    name: str
    min_interval: float

    def target_id(self) -> str:
        """A stable id of the destination that reveals nothing secret (for dedup, rate limits)."""
        ...

    def wants(self, event: Mapping[str, Any]) -> bool:
        """Whether this channel sends this event at all (False: ``send`` skips it)."""
        ...

    async def send(self, event: Mapping[str, Any], client: httpx.AsyncClient) -> DeliveryResult:
        """Deliver one event; never raises for HTTP or network failures."""
        ...


def target_id_for(*parts: str) -> str:
    """The first 12 hex digits of the SHA-256 of the destination's identifying parts.

    >>> target_id_for("https://hooks.example.com/services/T1/B2/xyz")
    '0405273d7539'
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:12]


def credentials_in(url: str) -> list[str]:
    """The ``user:password@`` password of a URL, as a list of secrets (empty without one).

    >>> credentials_in("http://admin:hunter22@am:9093"), credentials_in("http://am:9093")
    (['hunter22'], [])
    """
    try:
        password = httpx.URL(url).password
    except (httpx.InvalidURL, TypeError):
        return []
    return [password] if password else []


def event_kind(event: Mapping[str, Any]) -> str:
    """``open``, ``update`` or ``resolve``: the ``event`` key, else derived from ``status``.

    >>> event_kind({"event": "update"}), event_kind({"status": "resolved"}), event_kind({})
    ('update', 'resolve', 'open')
    """
    kind = event.get("event")
    if isinstance(kind, str) and kind:
        return kind
    return "resolve" if event.get("status") == "resolved" else "open"


def text_of(value: Any, default: str = "") -> str:
    """A value as text for a message field; None (or missing) becomes ``default``."""
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``ellipsis`` when cut.

    >>> truncate("abcdef", 4), truncate("abc", 4)
    ('abc…', 'abc')
    """
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ellipsis))] + ellipsis


_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date), or None.

    ``now`` is the epoch time an HTTP-date is measured from. A date in the past gives 0.

    >>> parse_retry_after("120", now=0.0)
    120.0
    >>> parse_retry_after("Fri, 27 Nov 2026 08:00:30 GMT", now=1795766400.0)
    30.0
    >>> parse_retry_after("soon", now=0.0) is None, parse_retry_after("-1", now=0.0) is None
    (True, True)
    """
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _reference_time(headers: httpx.Headers, clock: Callable[[], float]) -> float:
    """The receiver's own clock (its ``Date`` header) when it sent one, else ours."""
    date = headers.get("date")
    if date:
        parsed = parse_retry_after(date, now=0.0)
        if parsed is not None and parsed > 0:
            return parsed
    return clock()


def classify_response(
    status: int,
    headers: httpx.Headers,
    body: str,
    redactor: Redactor,
    clock: Callable[[], float] = time.time,
) -> DeliveryResult:
    """The shared HTTP policy for a response that arrived.

    >>> r = classify_response(429, httpx.Headers({"Retry-After": "3"}), "slow down", Redactor([]))
    >>> r.ok, r.retryable, r.status, r.retry_after, r.detail
    (False, True, 429, 3.0, 'HTTP 429 Too Many Requests: slow down')
    >>> classify_response(202, httpx.Headers(), "", Redactor([])).ok
    True
    >>> classify_response(400, httpx.Headers(), "bad", Redactor([])).retryable
    False
    """
    reason = httpx.codes.get_reason_phrase(status) or "status"
    snippet = " ".join(body.split())
    detail = f"HTTP {status} {reason}"
    if snippet:
        detail += ": " + truncate(snippet, DETAIL_BODY_CHARS)
    detail = redactor.redact(detail)
    if 200 <= status < 300:
        return DeliveryResult(
            ok=True, retryable=False, status=status, retry_after=None, detail=detail
        )
    if status == 429 or 500 <= status < 600:
        retry_after = parse_retry_after(
            headers.get("retry-after"), now=_reference_time(headers, clock)
        )
        return DeliveryResult(
            ok=False, retryable=True, status=status, retry_after=retry_after, detail=detail
        )
    if 300 <= status < 400:
        detail = redactor.redact(f"HTTP {status} {reason}: redirects are not followed")
    return DeliveryResult(ok=False, retryable=False, status=status, retry_after=None, detail=detail)


def _failure(exc: BaseException, what: str, retryable: bool, redactor: Redactor) -> DeliveryResult:
    message = str(exc).strip()
    detail = f"{what}: {type(exc).__name__}" + (f": {message}" if message else "")
    return DeliveryResult(
        ok=False,
        retryable=retryable,
        status=None,
        retry_after=None,
        detail=redactor.redact(truncate(detail, 2 * DETAIL_BODY_CHARS)),
    )


async def _read_some(response: httpx.Response, limit: int = _READ_LIMIT) -> str:
    """At most ``limit`` bytes of the body, decoded leniently (a detail needs no more)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace")


def encode_json(body: Any) -> bytes:
    """Compact JSON; raises ValueError for NaN or infinity, which JSON cannot carry."""
    return json.dumps(body, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode()


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: Any,
    *,
    redactor: Redactor,
    headers: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> DeliveryResult:
    """POST ``body`` as JSON with the client's timeouts, and apply the shared policy.

    Never raises for an HTTP status, a timeout, a network failure or an unusable URL.
    """
    try:
        content = encode_json(body)
    except (TypeError, ValueError) as exc:
        return _failure(exc, "the message cannot be encoded as JSON", False, redactor)
    sent_headers = {**(headers or {}), "Content-Type": "application/json"}
    try:
        async with client.stream("POST", url, content=content, headers=sent_headers) as response:
            try:
                text = await _read_some(response)
            except httpx.HTTPError:  # the status arrived; a body that fails to read changes nothing
                text = ""
    except httpx.TimeoutException as exc:
        return _failure(exc, "timed out", True, redactor)
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
        return _failure(exc, "connection failed", True, redactor)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return _failure(exc, "request failed", False, redactor)
    return classify_response(response.status_code, response.headers, text, redactor, clock)


class HttpChannel:
    """Shared plumbing: the redactor, ``wants`` by event kind, a ``__repr__`` without secrets."""

    name: str = "http"
    sends: tuple[str, ...] = ("open", "resolve")
    min_interval: float = 0.0

    def __init__(self, redactor: Redactor, clock: Callable[[], float] = time.time) -> None:
        self._redactor = redactor
        self._clock = clock

    @property
    def redactor(self) -> Redactor:
        """The redactor of this channel's secrets (for log filters of the HTTP libraries)."""
        return self._redactor

    def target_id(self) -> str:
        raise NotImplementedError

    def wants(self, event: Mapping[str, Any]) -> bool:
        return event_kind(event) in self.sends

    def skip_reason(self, event: Mapping[str, Any]) -> str:
        return f"{self.name} does not send {event_kind(event)} events"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target_id={self.target_id()!r})"
