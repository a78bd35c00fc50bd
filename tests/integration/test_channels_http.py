"""Each channel against a real HTTP receiver on loopback: formats as received, the failure policy,
and exact delivery counts (a missing request and an extra one both fail)."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from incidents.notify.channels import (
    AlertmanagerChannel,
    Channel,
    DeliveryResult,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from incidents.notify.retry import RetryPolicy
from tests.integration.receivers import Receiver, Reply, receiver_fixture

receiver = receiver_fixture()

ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"
TIMEOUT = 0.5

OPEN: dict[str, Any] = {
    "schema": "anomaly.incident/v1",
    "event": "open",
    "status": "open",
    "seq": 1,
    "incident_id": "inc-44ffe1730e09044a3ca9",
    "dedup_key": "inc-44ffe1730e09044a3ca9",
    "model_id": "metrics-v1",
    "model_version": "1.0",
    "entity": "host-1",
    "source": "metrics",
    "ts": 1795766440.0,
    "score": 12.0,
    "peak_score": 12.0,
    "threshold": 1.5,
    "severity": "critical",
    "summary": "metrics-v1 on host-1: feature_0 12.0σ above baseline (160 vs 100±5)",
    "signals": [
        {"feature": "feature_0", "value": 160.0, "score": 12.0, "center": 100.0, "spread": 5.0}
    ],
    "opened_at": "2026-11-27T08:00:40.000Z",
    "last_seen": "2026-11-27T08:00:40.000Z",
    "silenced": False,
    "alert_channels": ["pagerduty", "slack", "webhook"],
}
UPDATE = {**OPEN, "event": "update", "seq": 2, "peak_score": 15.0}
RESOLVE = {
    **OPEN,
    "event": "resolve",
    "status": "resolved",
    "seq": 3,
    "resolved_at": "2026-11-27T08:10:00.000Z",
}

Factory = Callable[[str], Channel]
CHANNELS: dict[str, Factory] = {
    "pagerduty": lambda base: PagerDutyChannel(ROUTING_KEY, f"{base}/v2/enqueue"),
    "slack": lambda base: SlackChannel(f"{base}/services/T0/B0/s3cr3t"),
    "webhook": lambda base: WebhookChannel(f"{base}/hook", {"Authorization": "Bearer tok3n"}),
    "alertmanager": lambda base: AlertmanagerChannel(base),
}


def send_all(channel: Channel, events: list[Mapping[str, Any]]) -> list[DeliveryResult]:
    async def go() -> list[DeliveryResult]:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            return [await channel.send(event, client) for event in events]

    return asyncio.run(go())


def deliver_with_retries(
    channel: Channel, event: Mapping[str, Any], policy: RetryPolicy
) -> tuple[DeliveryResult, int, list[float]]:
    """A minimal dispatcher loop with a recording sleep: final result, attempts, waits asked."""
    waits: list[float] = []
    rng = random.Random(0)

    async def go() -> tuple[DeliveryResult, int]:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            attempt = 0
            while True:
                attempt += 1
                result = await channel.send(event, client)
                if not policy.should_retry(result, attempt):
                    return result, attempt
                waits.append(policy.delay(attempt, result.retry_after, rng))

    result, attempts = asyncio.run(go())
    return result, attempts, waits


# -- formats as received ---------------------------------------------------------------------


def test_pagerduty_trigger_and_resolve_share_the_dedup_key(receiver: Any) -> None:
    rx: Receiver = receiver(default=Reply(202, {"status": "success", "message": "Event processed"}))
    results = send_all(CHANNELS["pagerduty"](rx.url), [OPEN, UPDATE, RESOLVE])
    assert [r.ok for r in results] == [True, True, True]
    assert [r.status for r in results] == [202, None, 202]  # the update is skipped
    requests = rx.requests
    assert len(requests) == 2
    assert all(r.method == "POST" and r.path == "/v2/enqueue" for r in requests)
    assert all(r.headers["content-type"] == "application/json" for r in requests)
    trigger, resolve = (r.json for r in requests)
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == OPEN["dedup_key"]
    assert trigger["routing_key"] == resolve["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["root_cause"] == OPEN["summary"]
    assert "payload" not in resolve


def test_slack_gets_text_and_blocks_for_open_and_resolve(receiver: Any) -> None:
    rx: Receiver = receiver(default=Reply(200, "ok"))
    results = send_all(CHANNELS["slack"](rx.url), [OPEN, UPDATE, RESOLVE])
    assert [r.status for r in results] == [200, None, 200]
    assert [r.path for r in rx.requests] == ["/services/T0/B0/s3cr3t"] * 2
    opened, resolved = rx.bodies()
    assert opened["text"].startswith(":red_circle: [CRITICAL] metrics-v1 on host-1")
    assert [b["type"] for b in opened["blocks"]] == ["header", "section", "section", "context"]
    assert resolved["text"].startswith(":large_green_circle: [RESOLVED]")
    assert resolved["blocks"][0]["type"] == "header"


def test_webhook_body_equals_the_event_with_idempotency_key_and_headers(receiver: Any) -> None:
    rx: Receiver = receiver(default=204)
    results = send_all(CHANNELS["webhook"](rx.url), [OPEN, UPDATE, RESOLVE])
    assert [r.status for r in results] == [204, None, 204]
    requests = rx.requests
    assert len(requests) == 2
    assert [r.json for r in requests] == [OPEN, RESOLVE]
    assert [r.headers["idempotency-key"] for r in requests] == [
        f"{OPEN['incident_id']}:open:1",
        f"{OPEN['incident_id']}:resolve:3",
    ]
    assert all(r.headers["authorization"] == "Bearer tok3n" for r in requests)
    assert all(r.headers["content-type"] == "application/json" for r in requests)


def test_alertmanager_gets_every_event_as_a_list_of_one_alert(receiver: Any) -> None:
    rx: Receiver = receiver(default=200)
    results = send_all(CHANNELS["alertmanager"](rx.url), [OPEN, UPDATE, RESOLVE])
    assert [r.status for r in results] == [200, 200, 200]
    assert [r.path for r in rx.requests] == ["/api/v2/alerts"] * 3
    bodies = rx.bodies()
    assert all(len(body) == 1 for body in bodies)
    # open and update stay active for a day unless resolved; the resolve ends at resolved_at
    ends = [body[0]["endsAt"] for body in bodies]
    assert ends[2] == RESOLVE["resolved_at"]
    day_ahead = time.time() + 23 * 3600
    assert all(datetime.fromisoformat(end).timestamp() > day_ahead for end in ends[:2])


# -- the failure policy over real HTTP -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_429_with_retry_after_is_retryable_with_the_delay_parsed(receiver: Any, name: str) -> None:
    rx: Receiver = receiver(responses=[Reply(429, "slow down", {"Retry-After": "1"})])
    (result,) = send_all(CHANNELS[name](rx.url), [OPEN])
    assert (result.ok, result.retryable, result.status, result.retry_after) == (
        False,
        True,
        429,
        1.0,
    )
    assert len(rx.requests) == 1


def test_retry_after_as_an_http_date_counts_from_the_receivers_clock(receiver: Any) -> None:
    later = formatdate(time.time() + 120, usegmt=True)
    rx: Receiver = receiver(responses=[Reply(503, headers={"Retry-After": later})])
    (result,) = send_all(CHANNELS["slack"](rx.url), [OPEN])
    assert result.retryable and result.status == 503
    assert result.retry_after is not None and 117.0 <= result.retry_after <= 121.0


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_500_is_retryable(receiver: Any, name: str) -> None:
    rx: Receiver = receiver(responses=[Reply(500, "boom")])
    (result,) = send_all(CHANNELS[name](rx.url), [OPEN])
    assert (result.ok, result.retryable, result.status) == (False, True, 500)
    assert result.detail == "HTTP 500 Internal Server Error: boom"
    assert len(rx.requests) == 1


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_a_hanging_receiver_gives_a_retryable_timeout_within_the_client_timeout(
    receiver: Any, name: str
) -> None:
    rx: Receiver = receiver(responses=[Reply(200, hang=30.0)])
    started = time.monotonic()
    (result,) = send_all(CHANNELS[name](rx.url), [OPEN])
    elapsed = time.monotonic() - started
    assert (result.ok, result.retryable, result.status) == (False, True, None)
    assert result.detail.startswith("timed out: ReadTimeout")
    # It waited for the client's timeout and gave up before the receiver's 30 s answer.
    assert TIMEOUT * 0.9 <= elapsed < 30.0
    assert len(rx.requests) == 1  # it arrived; the answer never came


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_400_is_final_and_not_retried(receiver: Any, name: str) -> None:
    rx: Receiver = receiver(responses=[Reply(400, {"status": "invalid event"})], default=200)
    result, attempts, waits = deliver_with_retries(CHANNELS[name](rx.url), OPEN, RetryPolicy())
    assert (result.ok, result.retryable, result.status) == (False, False, 400)
    assert attempts == 1 and waits == []
    assert len(rx.requests) == 1


def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (result,) = send_all(CHANNELS["webhook"](f"http://127.0.0.1:{port}"), [OPEN])
    assert (result.ok, result.retryable, result.status) == (False, True, None)
    assert result.detail.startswith("connection failed: ConnectError")


@pytest.mark.parametrize("name", ["pagerduty", "slack", "webhook"])
def test_429_500_and_a_timeout_then_success_is_delivered_with_exactly_four_requests(
    receiver: Any, name: str
) -> None:
    rx: Receiver = receiver(
        responses=[Reply(429, headers={"Retry-After": "1"}), Reply(500), Reply(200, hang=30.0)],
        default=200,
    )
    result, attempts, waits = deliver_with_retries(
        CHANNELS[name](rx.url), OPEN, RetryPolicy(base=0.5, jitter=0.2)
    )
    assert result.ok and result.status == 200
    assert attempts == 4
    assert len(rx.requests) == 4
    assert len({r.body for r in rx.requests}) == 1  # every attempt is the same request
    assert waits[0] == 1.0  # Retry-After is the floor
    assert 0.8 <= waits[1] <= 1.0 and 1.6 <= waits[2] <= 2.0  # backoff with jitter
