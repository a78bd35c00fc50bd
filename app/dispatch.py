"""Delivery of incident events from the alerts topic (the durable outbox) to the alert channels.

One Faust agent per configured channel consumes `anomaly.alerts`, so a failing PagerDuty does not
hold back Slack. For each event that names the channel, the agent:

1. skips it if the `deliveries` ledger already has a final entry for (incident, event, seq,
   channel): a replay after a restart or a rebalance never sends an event twice;
2. records it as `silenced` when a silence matches the incident at its event time;
3. sends it, retrying 429, 5xx and timeouts with exponential backoff and jitter that honours
   `Retry-After`, until it is `delivered` or finally `failed` (another 4xx, or out of attempts).

The agent finishes an event only once its outcome is final, so Faust does not commit the offset
before then: a worker killed mid-retry re-reads the event after a restart (at least once), and
the ledger (a changelog-backed table, flushed right after each delivery) prevents a second send.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from incidents.channels import Channel
from incidents.ratelimit import PerTargetRateLimiter
from incidents.retry import RetryPolicy
from incidents.silences import Silence, first_matching
from incidents.telemetry import TelemetryError, parse_ts

log = logging.getLogger(__name__)

FINAL = ("delivered", "failed", "silenced")


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
    ) -> None:
        self.channels = dict(channels)
        self.silences = silences
        self.policy = policy
        self.timeout = timeout
        self.flush = flush
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.limiter = PerTargetRateLimiter(interval=slack_interval)
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def handle(self, name: str, event: Mapping[str, Any], ledger: Any) -> str | None:
        """Deliver ``event`` to channel ``name`` once; returns the final status, or None when the
        event is not for this channel."""
        channel = self.channels[name]
        if name not in event.get("alert_channels", ()) or not channel.wants(event):
            return None
        key = ledger_key(event, name)
        entry = ledger.get(key)
        if entry is not None and entry.get("status") in FINAL:
            return str(entry["status"])
        silence = first_matching(self.silences(), event, event_time(event))
        if silence is not None:
            ledger[key] = {"status": "silenced", "silence_id": silence.id, "at": time.time()}
            log.info(
                "%s %s not sent to %s: silenced by %s",
                event["incident_id"],
                event.get("event"),
                name,
                silence.id,
            )
            return "silenced"
        attempts = int(entry.get("attempts", 0)) if entry else 0
        while True:
            if name == "slack":
                await self.limiter.acquire(channel.target_id())
            result = await channel.send(event, self.client())
            attempts += 1
            if result.ok:
                ledger[key] = {
                    "status": "delivered",
                    "attempts": attempts,
                    "http_status": result.status,
                    "at": time.time(),
                }
                if self.flush is not None:
                    await self.flush()  # the ledger row is durable before the next event
                log.info(
                    "%s %s delivered to %s after %d attempt(s)",
                    event["incident_id"],
                    event.get("event"),
                    name,
                    attempts,
                )
                return "delivered"
            if not self.policy.should_retry(result, attempts):
                ledger[key] = {
                    "status": "failed",
                    "attempts": attempts,
                    "http_status": result.status,
                    "error": result.detail,
                    "at": time.time(),
                }
                log.warning(
                    "%s %s not delivered to %s: %s",
                    event["incident_id"],
                    event.get("event"),
                    name,
                    result.detail,
                )
                return "failed"
            ledger[key] = {
                "status": "retrying",
                "attempts": attempts,
                "http_status": result.status,
                "error": result.detail,
                "at": time.time(),
            }
            delay = self.policy.delay(attempts, result.retry_after, self.rng)
            log.info(
                "%s %s to %s: %s; retry %d in %.1f s",
                event["incident_id"],
                event.get("event"),
                name,
                result.detail,
                attempts,
                delay,
            )
            await self.sleep(delay)
