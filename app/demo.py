"""A synthetic feed for `make demo`: incidents in the dashboard within seconds of starting.

Three models, fed through the real topics: host metrics (`demo-metrics`: CPU and latency of three
hosts, with a spike and a slow drift), API logs (`demo-logs`, with a burst of timeouts) and user
behaviour (`demo-behavior`, a user whose login path suddenly goes somewhere rare). The feed first
backfills two hours of normal history (event time in the past) so the models are warm at once,
then plays live, one point a second per host, injecting its anomalies a few seconds in.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
from aiokafka.partitioner import murmur2

log = logging.getLogger(__name__)

HOSTS = ("web-1", "web-2", "db-1")
BACKFILL_SECONDS = 7200
STEP = 10.0  # seconds of event time between backfilled points
LOG_BACKFILL_SECONDS = 1800

CONFIGS: dict[str, Any] = {
    "configs": [
        {
            "model_id": "demo-metrics",
            "model_version": "1",
            "detector": "zscore",
            "features": ["cpu_pct", "latency_ms"],
            "warmup": 30,
            "resolve_after": 60,
            "forecast": {"predictive_horizon": 10},
            "alert_channels": [],
        },
        {
            "model_id": "demo-logs",
            "model_version": "1",
            "detector": "zscore",
            "stream": "logs",
            "warmup": 10,
            "log_window": 10,
            "resolve_after": 60,
        },
        {
            "model_id": "demo-behavior",
            "model_version": "1",
            "detector": "graph_rarity",
            "stream": "behavior",
            "resolve_after": 600,
        },
    ]
}


def metric(
    host: str, ts: float, rng: random.Random, live_second: float | None = None
) -> dict[str, Any]:
    """One point of a host: daily-ish wave plus noise; web-2 spikes and db-1 drifts when live."""
    wave = 6 * math.sin(2 * math.pi * ts / 86400.0)  # a daily cycle
    cpu = 40 + wave + rng.gauss(0, 2)
    latency = 120 + 0.5 * wave + rng.gauss(0, 4)
    if live_second is not None:
        if host == "web-2" and 5 <= live_second <= 12:
            cpu, latency = 97.0 + rng.gauss(0, 1), 480.0 + rng.gauss(0, 20)
        if host == "db-1":
            latency += 2.5 * live_second  # a slow drift: forecast to breach, then breaching
    return {"model_id": "demo-metrics", "entity": host, "ts": ts, "values": [cpu, latency]}


def logs(ts: float, rng: random.Random, burst: bool) -> list[dict[str, Any]]:
    events = []
    for k in range(rng.randint(3, 6)):
        at = ts + k * 0.15
        if burst:
            events.append(
                {
                    "ts": at,
                    "level": "error",
                    "message": f"timeout after {rng.randint(3000, 3100)} ms calling 10.0.4.2:5432",
                }
            )
        else:
            level = "error" if rng.random() < 0.03 else "info"
            events.append(
                {
                    "ts": at,
                    "level": level,
                    "message": f"GET /api/orders/{rng.randint(1, 9999)} 200 in {rng.randint(8, 90)} ms",
                }
            )
    return events


def behaviour(ts: float, rare: bool) -> list[dict[str, Any]]:
    if rare:
        path = [("login", "/login", "BR"), ("export", "/admin/users/export", "BR")]
    else:
        path = [
            ("login", "/login", "FR"),
            ("view", "/dashboard", "FR"),
            ("logout", "/logout", "FR"),
        ]
    return [
        {
            "entity": "user-42",
            "ts": ts + k,
            "action": action,
            "target": target,
            "attributes": {"country": country, "device": "ios"},
        }
        for k, (action, target, country) in enumerate(path)
    ]


class DemoFeed(threading.Thread):
    """Waits for the engine's API, applies the demo configurations, then feeds telemetry."""

    def __init__(
        self, bootstrap: str, api_url: str, topics: dict[str, str], partitions: int
    ) -> None:
        super().__init__(name="demo-feed", daemon=True)
        self.bootstrap = bootstrap
        self.api_url = api_url
        self.topics = topics
        self.partitions = partitions
        self.rng = random.Random(42)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # the demo feed must never take the engine down
            log.exception("demo feed stopped")

    def _partition(self, entity: str) -> int:
        return (murmur2(entity.encode()) & 0x7FFFFFFF) % self.partitions

    def _run(self) -> None:
        from confluent_kafka import Producer

        while not self.stopped.is_set():
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).json().get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            self.stopped.wait(0.5)
        response = httpx.post(f"{self.api_url}/anomaly/config", json=CONFIGS, timeout=30)
        response.raise_for_status()
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})

        def send(stream: str, entity: str, message: dict[str, Any]) -> None:
            producer.produce(
                self.topics[stream],
                key=entity.encode(),
                value=json.dumps(message).encode(),
                partition=self._partition(entity),
            )

        start = time.time()
        for stream, entity, message in self._backfill(start):
            send(stream, entity, message)
        producer.flush(30)
        log.info("demo feed: two hours of history backfilled; playing live")
        second = 0
        while not self.stopped.is_set():
            now = time.time()
            for host in HOSTS:
                send("metrics", host, metric(host, now, self.rng, live_second=second))
            burst = 8 <= second <= 14
            send("logs", "api-1", {"entity": "api-1", "events": logs(now, self.rng, burst)})
            if second % 20 == 0 or second == 10:
                for event in behaviour(now, rare=second == 10):
                    send("behavior", "user-42", event)
            producer.flush(10)
            second += 1
            self.stopped.wait(max(0.0, start + second + 1 - time.time()) if second > 0 else 1.0)

    def _backfill(self, now: float) -> Iterator[tuple[str, str, dict[str, Any]]]:
        first = now - BACKFILL_SECONDS
        for host in HOSTS:
            points = [
                metric(host, first + i * STEP, self.rng)
                for i in range(int(BACKFILL_SECONDS / STEP))
            ]
            yield (
                "metrics",
                host,
                {
                    "model_id": "demo-metrics",
                    "entity": host,
                    "points": [{"ts": p["ts"], "values": p["values"]} for p in points],
                },
            )
        events = []
        for second in range(LOG_BACKFILL_SECONDS):  # the live rate: one tick a second
            events += logs(now - LOG_BACKFILL_SECONDS + second, self.rng, burst=False)
        yield "logs", "api-1", {"entity": "api-1", "events": events}
        for i in range(60):
            for event in behaviour(first + i * 120, rare=False):
                yield "behavior", "user-42", event
