"""Delivery of incident events from the alerts topic (the durable outbox) to the alert channels.

One Faust agent per configured channel consumes `anomaly.alerts`, so a failing PagerDuty does not
hold back Slack. For each event that names the channel, the agent:

1. skips it if the `deliveries` ledger already has a final entry for (incident, event, seq,
   channel): a replay after a restart or a rebalance never sends an event twice;
2. records it as `silenced` when a silence matches the incident at its event time. An update
   or a resolve follows what happened to the incident's open event on that channel: silenced
   with it when the open was silenced (the channel never heard of the incident), and sent even
   under a silence created since when the open was delivered (a silence stops new pages; it
   must not leave a PagerDuty incident triggered forever);
3. sends it, retrying 429, 5xx and timeouts with exponential backoff and jitter that honours
   `Retry-After`, until it is `delivered` or finally `failed` (another 4xx, or out of attempts).

The agent finishes an event only once its outcome is final, so Faust does not commit the offset
before then: a worker killed mid-retry re-reads the event after a restart (at least once; a
partition nothing of which was committed yet is read from its start, ``app.transport``), and
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
from typing import Any

import httpx

from app.logformat import log_context
from app.metrics import EngineMetrics
from incidents.channels import Channel
from incidents.ratelimit import PerTargetRateLimiter
from incidents.redact import RedactingFilter, Redactor
from incidents.retry import RetryPolicy
from incidents.silences import Silence, first_matching
from incidents.telemetry import TelemetryError, parse_ts

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


class Dispatcher:
    """Delivers events to channels, with the ledger given per call (a Faust table)."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        silences: Callable[[], list[Silence]],
        policy: RetryPolicy,
        *,
        timeout: float,
        slack_interval: float = 1.0,
        flush: Callable[[], Any] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        rng: random.Random | None = None,
        redactor: Redactor | None = None,
        metrics: EngineMetrics | None = None,
    ) -> None:
        self.channels = dict(channels)
        self.metrics = metrics if metrics is not None else EngineMetrics(process=False)
        self.silences = silences
        self.policy = policy
        self.timeout = timeout
        self.flush = flush
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.limiter = PerTargetRateLimiter(interval=slack_interval)
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

    async def _record(
        self, ledger: Any, key: str, row: dict[str, Any], partition: int | None = None
    ) -> None:
        """Write a ledger row (with the event's partition, for pruning: ``app.sweeper``); a
        final one is flushed to the broker before the next event."""
        where = {"partition": partition} if partition is not None else {}
        ledger[key] = {**row, "at": time.time(), **where}
        if row["status"] in FINAL and self.flush is not None:
            await self.flush()

    def _silence_for(
        self, name: str, event: Mapping[str, Any], ledger: Any
    ) -> tuple[str, str] | None:
        """``(silence id, reason)`` when ``event`` must not go to channel ``name``, else None."""
        if event.get("event", "open") != "open":
            opened = ledger.get(ledger_key({**event, "event": "open", "seq": 0}, name))
            status = opened.get("status") if opened else None
            if status == "silenced":
                return str(opened.get("silence_id", "")), "its open event was silenced"
            if status == "delivered":
                return None  # the channel knows the incident: it hears how it ends
        silence = first_matching(self.silences(), event, event_time(event))
        return (silence.id, f"silenced by {silence.id}") if silence is not None else None

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
        entry = ledger.get(key)
        context = log_context(event, channel=name)
        if entry is not None and entry.get("status") in FINAL:
            self.metrics.delivery(name, "duplicate")
            log.info(
                "%s %s already %s on %s (a replay): not sent again",
                event["incident_id"],
                event.get("event"),
                entry["status"],
                name,
                extra=context,
            )
            return str(entry["status"])
        silenced = self._silence_for(name, event, ledger)
        if silenced is not None:
            silence_id, reason = silenced
            await self._record(
                ledger, key, {"status": "silenced", "silence_id": silence_id}, partition
            )
            self.metrics.delivery(name, "silenced")
            log.info(
                "%s %s not sent to %s: %s",
                event["incident_id"],
                event.get("event"),
                name,
                reason,
                extra=context,
            )
            return "silenced"
        attempts = int(entry.get("attempts", 0)) if entry else 0
        while True:
            if name == "slack":
                await self.limiter.acquire(channel.target_id())
                try:
                    result = await channel.send(event, self.client())
                finally:
                    self.limiter.done(channel.target_id())
            else:
                result = await channel.send(event, self.client())
            attempts += 1
            if result.ok:
                row = {"status": "delivered", "attempts": attempts, "http_status": result.status}
                await self._record(ledger, key, row, partition)
                self.metrics.delivery(name, "delivered")
                log.info(
                    "%s %s delivered to %s after %d attempt(s)",
                    event["incident_id"],
                    event.get("event"),
                    name,
                    attempts,
                    extra=context,
                )
                return "delivered"
            row = {
                "status": "retrying",
                "attempts": attempts,
                "http_status": result.status,
                "error": result.detail,
            }
            if not self.policy.should_retry(result, attempts):
                await self._record(ledger, key, {**row, "status": "failed"}, partition)
                self.metrics.delivery(name, "failed")
                log.warning(
                    "%s %s not delivered to %s: %s",
                    event["incident_id"],
                    event.get("event"),
                    name,
                    result.detail,
                    extra=context,
                )
                return "failed"
            await self._record(ledger, key, row, partition)
            self.metrics.delivery(name, "retried")
            delay = self.policy.delay(attempts, result.retry_after, self.rng)
            log.info(
                "%s %s to %s: %s; retry %d in %.1f s",
                event["incident_id"],
                event.get("event"),
                name,
                result.detail,
                attempts,
                delay,
                extra=context,
            )
            await self.sleep(delay)


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
