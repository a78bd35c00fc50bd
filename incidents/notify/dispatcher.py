"""Delivery of incident events from the alerts topic (the durable outbox) to the alert channels.

The worker runs one Faust agent per configured channel over `anomaly.alerts`, so a failing
PagerDuty does not hold back Slack, and hands each event to :meth:`Dispatcher.handle`. Delivery is
a pipeline of stages, each of which may finish the event:

1. **dedup**: the `deliveries` ledger already has a final entry for (incident, event, seq,
   channel): a replay after a restart or a rebalance never sends an event twice;
2. **silence**: recorded as `silenced` when a silence matches the incident at its event time. An
   update or a resolve follows what happened to the incident's open event on that channel:
   silenced with it when the open was silenced (the channel never heard of the incident), and
   sent even under a silence created since when the open was delivered (a silence stops new
   pages; it must not leave a PagerDuty incident triggered forever);
3. **rate limit**: a channel whose ``min_interval`` is above 0 (Slack: one message a second per
   webhook) gets its requests to one target at least that far apart, queued, never dropped;
4. **retry**: 429, 5xx and timeouts are retried with exponential backoff and jitter that honours
   `Retry-After` (:class:`~incidents.notify.retry.RetryPolicy`), until the event is `delivered`
   or finally `failed` (another 4xx, or out of attempts);
5. **channel**: :meth:`Channel.send` makes the request and says whether a failure is worth a retry.

A new channel is one class with ``send`` (``incidents.notify.channels``); nothing here names one.

The agent finishes an event only once its outcome is final, so Faust does not commit the offset
before then: a worker killed mid-retry re-reads the event after a restart (at least once; a
partition nothing of which was committed yet is read from its start, ``app.worker.transport``), and
the ledger (a changelog-backed table, flushed right after each final outcome) prevents a second
send. The residual window: a worker killed after a receiver accepted a request and before the
ledger row reached the broker sends that event once more after the restart.

httpx logs every request's URL at INFO, and a Slack or webhook URL is a secret: the dispatcher
puts a redacting filter on the loggers of the HTTP libraries it uses (``HTTP_LOGGERS``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from incidents.log_context import log_context
from incidents.notify.channels import Channel, DeliveryResult
from incidents.notify.ratelimit import PerTargetRateLimiter
from incidents.notify.retry import RetryPolicy
from incidents.points import TelemetryError, parse_ts
from incidents.redact import RedactingFilter, Redactor
from incidents.silences import Silence, first_matching

log = logging.getLogger(__name__)

FINAL = ("delivered", "failed", "silenced")

# Loggers that write request URLs: httpx logs every request's URL at INFO. (httpcore, below it,
# logs only the host and port, at DEBUG.)
HTTP_LOGGERS = ("httpx",)


def ledger_key(event: Mapping[str, Any], channel: str) -> str:
    """The ledger row of one event of one incident for one channel.

    Examples
    --------
    >>> ledger_key({"incident_id": "inc-1", "event": "open", "seq": 0}, "slack")
    'inc-1|open|0|slack'
    """
    return f"{event['incident_id']}|{event.get('event', 'open')}|{event.get('seq', 0)}|{channel}"


def event_time(event: Mapping[str, Any]) -> float:
    """When the event happened, in event time: the resolution time of a resolve, else the opening."""
    if event.get("event") == "resolve" and event.get("resolved_at"):
        try:
            return parse_ts(event["resolved_at"])
        except TelemetryError:
            pass
    return float(event.get("ts", 0.0))


class DeliveryCounter(Protocol):
    """Where outcomes are counted (the worker's ``anomaly_deliveries_total``)."""

    def delivery(self, channel: str, outcome: str) -> None: ...


class _NotCounted:
    def delivery(self, channel: str, outcome: str) -> None:
        return None


@dataclass
class Delivery:
    """One event on its way to one channel, as the stages see it."""

    name: str
    channel: Channel
    event: Mapping[str, Any]
    ledger: Any
    key: str
    entry: Mapping[str, Any] | None  # the ledger's row for this event, read once
    partition: int | None
    context: dict[str, Any]

    def describe(self) -> str:
        return f"{self.event['incident_id']} {self.event.get('event')}"


class Dispatcher:
    """Delivers events to channels through the stages above, with the ledger given per call (a
    Faust table in the worker, a dict in tests)."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        silences: Callable[[], list[Silence]],
        policy: RetryPolicy,
        *,
        timeout: float,
        flush: Callable[[], Any] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        rng: random.Random | None = None,
        redactor: Redactor | None = None,
        metrics: DeliveryCounter | None = None,
    ) -> None:
        self.channels = dict(channels)
        self.metrics: DeliveryCounter = metrics if metrics is not None else _NotCounted()
        self.silences = silences
        self.policy = policy
        self.timeout = timeout
        self.flush = flush
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.limiters = {
            name: PerTargetRateLimiter(interval=channel.min_interval)
            for name, channel in self.channels.items()
            if channel.min_interval > 0
        }
        self._client: httpx.AsyncClient | None = None
        self._log_filters = install_http_log_filters(
            [redactor] if redactor is not None else channel_redactors(self.channels.values())
        )

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        for logger, log_filter in self._log_filters:
            logger.removeFilter(log_filter)
        self._log_filters = []

    async def handle(
        self, name: str, event: Mapping[str, Any], ledger: Any, partition: int | None = None
    ) -> str | None:
        """Deliver ``event`` to channel ``name`` once; returns the final status, or None when the
        event is not for this channel. ``partition``: the event's partition of the alerts
        topic, recorded in its ledger rows."""
        channel = self.channels[name]
        if name not in event.get("alert_channels", ()) or not channel.wants(event):
            return None
        key = ledger_key(event, name)
        delivery = Delivery(
            name,
            channel,
            event,
            ledger,
            key,
            ledger.get(key),
            partition,
            log_context(event, channel=name),
        )
        return (
            self._replayed(delivery)
            or await self._silenced(delivery)
            or await self._send_with_retries(delivery)
        )

    # ------------------------------------------------------------------ the stages

    def _replayed(self, d: Delivery) -> str | None:
        """Dedup: the final status the ledger already holds for this event, else None."""
        entry = d.entry
        if entry is None or entry.get("status") not in FINAL:
            return None
        self.metrics.delivery(d.name, "duplicate")
        log.info(
            "%s already %s on %s (a replay): not sent again",
            d.describe(),
            entry["status"],
            d.name,
            extra=d.context,
        )
        return str(entry["status"])

    async def _silenced(self, d: Delivery) -> str | None:
        """Silence: ``"silenced"`` (recorded) when the event must not go out, else None."""
        found = self._silence_for(d)
        if found is None:
            return None
        silence_id, reason = found
        await self._record(d, {"status": "silenced", "silence_id": silence_id})
        self.metrics.delivery(d.name, "silenced")
        log.info("%s not sent to %s: %s", d.describe(), d.name, reason, extra=d.context)
        return "silenced"

    def _silence_for(self, d: Delivery) -> tuple[str, str] | None:
        """``(silence id, reason)`` when the event must not go to the channel, else None."""
        if d.event.get("event", "open") != "open":
            opened = d.ledger.get(ledger_key({**d.event, "event": "open", "seq": 0}, d.name))
            status = opened.get("status") if opened else None
            if status == "silenced":
                return str(opened.get("silence_id", "")), "its open event was silenced"
            if status == "delivered":
                return None  # the channel knows the incident: it hears how it ends
        silence = first_matching(self.silences(), d.event, event_time(d.event))
        return (silence.id, f"silenced by {silence.id}") if silence is not None else None

    async def _send_with_retries(self, d: Delivery) -> str:
        """Retry: send until delivered or finally failed, waiting as the policy says."""
        attempts = int(d.entry.get("attempts", 0)) if d.entry else 0
        while True:
            result = await self._send_rate_limited(d)
            attempts += 1
            if result.ok:
                row = {"status": "delivered", "attempts": attempts, "http_status": result.status}
                await self._record(d, row)
                self.metrics.delivery(d.name, "delivered")
                log.info(
                    "%s delivered to %s after %d attempt(s)",
                    d.describe(),
                    d.name,
                    attempts,
                    extra=d.context,
                )
                return "delivered"
            row = {
                "status": "retrying",
                "attempts": attempts,
                "http_status": result.status,
                "error": result.detail,
            }
            if not self.policy.should_retry(result, attempts):
                await self._record(d, {**row, "status": "failed"})
                self.metrics.delivery(d.name, "failed")
                log.warning(
                    "%s not delivered to %s: %s",
                    d.describe(),
                    d.name,
                    result.detail,
                    extra=d.context,
                )
                return "failed"
            await self._record(d, row)
            self.metrics.delivery(d.name, "retried")
            delay = self.policy.delay(attempts, result.retry_after, self.rng)
            log.info(
                "%s to %s: %s; retry %d in %.1f s",
                d.describe(),
                d.name,
                result.detail,
                attempts,
                delay,
                extra=d.context,
            )
            await self.sleep(delay)

    async def _send_rate_limited(self, d: Delivery) -> DeliveryResult:
        """Rate limit, then the channel: at most one request per ``min_interval`` per target."""
        limiter = self.limiters.get(d.name)
        if limiter is None:
            return await d.channel.send(d.event, self.client())
        target = d.channel.target_id()
        await limiter.acquire(target)
        try:
            return await d.channel.send(d.event, self.client())
        finally:
            limiter.done(target)

    async def _record(self, d: Delivery, row: dict[str, Any]) -> None:
        """Write a ledger row (with the event's partition, for pruning: ``app.worker.sweeper``); a
        final one is flushed to the broker before the next event."""
        where = {"partition": d.partition} if d.partition is not None else {}
        d.ledger[d.key] = {**row, "at": time.time(), **where}
        if row["status"] in FINAL and self.flush is not None:
            await self.flush()


def channel_redactors(channels: Iterable[Channel]) -> list[Redactor]:
    """The distinct redactors of ``channels`` (built by ``build_channels``, they share one)."""
    found: dict[int, Redactor] = {}
    for channel in channels:
        redactor = getattr(channel, "redactor", None)
        if isinstance(redactor, Redactor):
            found.setdefault(id(redactor), redactor)
    return list(found.values())


def install_http_log_filters(
    redactors: Iterable[Redactor],
) -> list[tuple[logging.Logger, RedactingFilter]]:
    """Redact the records of :data:`HTTP_LOGGERS` (a filter on the logger itself, so it holds
    whatever handlers the worker's logging setup adds later)."""
    installed = []
    for redactor in redactors:
        for name in HTTP_LOGGERS:
            logger = logging.getLogger(name)
            log_filter = RedactingFilter(redactor)
            logger.addFilter(log_filter)
            installed.append((logger, log_filter))
    return installed
