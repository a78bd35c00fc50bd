"""The delivery stages (incidents.notify.dispatcher): dedup, silence, rate limit, retry, channel.

The channels here are scripted; the real ones against real HTTP receivers and a real worker are
in tests/integration/test_delivery.py and test_channels_http.py.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from incidents.notify import Dispatcher
from incidents.notify.channels import DeliveryResult
from incidents.notify.retry import RetryPolicy
from incidents.silences import Silence

OK = DeliveryResult(ok=True, retryable=False, status=200, retry_after=None, detail="")
BUSY = DeliveryResult(ok=False, retryable=True, status=429, retry_after=7.0, detail="HTTP 429")


class RecordingChannel:
    """A channel that answers from a script (then OK) and records when each request started."""

    def __init__(self, name: str, min_interval: float = 0.0, script: Any = ()) -> None:
        self.name = name
        self.min_interval = min_interval
        self.script = list(script)
        self.sent: list[tuple[str, float]] = []

    def target_id(self) -> str:
        return f"{self.name}-target"

    def wants(self, event: Any) -> bool:
        return True

    async def send(self, event: Any, client: Any) -> DeliveryResult:
        self.sent.append((f"{event['incident_id']} {event['event']}", time.monotonic()))
        return self.script.pop(0) if self.script else OK


def event(incident: str, kind: str = "open", channel: str = "hook") -> dict[str, Any]:
    return {
        "incident_id": incident,
        "event": kind,
        "seq": 0,
        "ts": 1_000.0,
        "model_id": "m",
        "entity": "host-1",
        "alert_channels": [channel],
    }


def dispatcher(
    channel: RecordingChannel, silences: list[Silence] | None = None, **kw: Any
) -> Dispatcher:
    return Dispatcher(
        {channel.name: channel},
        lambda: list(silences or []),
        RetryPolicy(),
        timeout=1,
        rng=random.Random(0),
        **kw,
    )


def test_a_channel_s_min_interval_spaces_its_requests_whatever_its_name() -> None:
    channel = RecordingChannel("hook", min_interval=0.2)
    ledger: dict[str, Any] = {}

    async def burst() -> list[str | None]:
        d = dispatcher(channel)
        try:
            return list(
                await asyncio.gather(
                    *(d.handle("hook", event(f"inc-{i}"), ledger) for i in range(4))
                )
            )
        finally:
            await d.close()

    assert asyncio.run(burst()) == ["delivered"] * 4
    starts = [at for _, at in channel.sent]
    assert [what for what, _ in channel.sent] == [f"inc-{i} open" for i in range(4)], "in order"
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.2 * 0.99, gaps


def test_a_retry_waits_at_least_the_receiver_s_retry_after() -> None:
    channel = RecordingChannel("hook", script=[BUSY, BUSY])
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    ledger: dict[str, Any] = {}
    d = dispatcher(channel, sleep=record_wait)
    assert asyncio.run(d.handle("hook", event("inc-1"), ledger)) == "delivered"
    assert len(channel.sent) == 3
    assert waits and all(wait >= 7.0 for wait in waits), waits
    assert ledger["inc-1|open|0|hook"]["attempts"] == 3


def test_a_replayed_event_is_not_sent_again() -> None:
    channel = RecordingChannel("hook")
    ledger: dict[str, Any] = {}
    d = dispatcher(channel)
    assert asyncio.run(d.handle("hook", event("inc-1"), ledger)) == "delivered"
    assert asyncio.run(d.handle("hook", event("inc-1"), ledger)) == "delivered"
    assert len(channel.sent) == 1


def test_a_silence_stops_new_pages_but_not_the_end_of_a_delivered_incident() -> None:
    channel = RecordingChannel("hook")
    silences: list[Silence] = []
    ledger: dict[str, Any] = {}
    d = dispatcher(channel, silences)
    assert asyncio.run(d.handle("hook", event("inc-1"), ledger)) == "delivered"
    silences.append(Silence("sil-1", {"model_id": "m"}, starts_at=0.0, ends_at=10_000.0))
    assert asyncio.run(d.handle("hook", event("inc-2"), ledger)) == "silenced"
    assert asyncio.run(d.handle("hook", event("inc-1", "resolve"), ledger)) == "delivered"
    assert asyncio.run(d.handle("hook", event("inc-2", "resolve"), ledger)) == "silenced"
    assert [what for what, _ in channel.sent] == ["inc-1 open", "inc-1 resolve"]
    assert ledger["inc-2|open|0|hook"]["silence_id"] == "sil-1"


def test_an_event_for_another_channel_is_left_alone() -> None:
    channel = RecordingChannel("hook")
    ledger: dict[str, Any] = {}
    d = dispatcher(channel)
    assert asyncio.run(d.handle("hook", event("inc-1", channel="slack"), ledger)) is None
    assert channel.sent == [] and ledger == {}
