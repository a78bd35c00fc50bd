"""A synthetic feed for `make demo`: incidents in the dashboard within seconds of starting.

Three models, fed through the real topics: host metrics (`demo-metrics`: CPU and latency of three
hosts, with a spike and a slow drift), API logs (`demo-logs`, with a burst of timeouts) and user
behaviour (`demo-behavior`, a user whose login path suddenly goes somewhere rare). The feed first
backfills two hours of normal history (event time in the past) so the models are warm at once,
then plays live, one point a second per host, injecting its anomalies a few seconds in and again
every ``CYCLE`` seconds (the drift lasts ``DRIFT_SECONDS``), so incidents also resolve and reopen
while the demo runs. Measured from `anomaly-engine demo` on this machine: the worker is ready in
about 9 s and the four incidents show in `GET /anomaly/alerts` from about 13 s to 18 s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from app.worker.settings import keys_in

if TYPE_CHECKING:
    from app.worker.settings import Settings

log = logging.getLogger(__name__)

HOSTS = ("web-1", "web-2", "db-1")
BACKFILL_SECONDS = 7200
STEP = 10.0  # seconds of event time between backfilled points
LOG_BACKFILL_SECONDS = 1800
CYCLE = 180  # seconds between the live anomalies' returns
SPIKE = (3, 10)  # web-2's spike, seconds into each cycle
BURST = (2, 11)  # api-1's error burst
RARE_AT = 5  # user-42's rare path
DRIFT_SECONDS = 90  # db-1's latency drifts up this long, then recovers

CONFIGS: dict[str, Any] = {
    "configs": [
        {
            "model_id": "demo-metrics",
            "model_version": "1",
            "detector": "zscore",
            "params": {"threshold": 4.0},  # 3σ pages on noise now and then over 2 h of history
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
    """One point of a host: daily-ish wave plus noise; when live, ``live_second`` into the feed,
    web-2 spikes and db-1 drifts, once a cycle."""
    wave = 6 * math.sin(2 * math.pi * ts / 86400.0)  # a daily cycle
    cpu = 40 + wave + rng.gauss(0, 2)
    latency = 120 + 0.5 * wave + rng.gauss(0, 4)
    if live_second is not None:
        phase = live_second % CYCLE
        if host == "web-2" and SPIKE[0] <= phase <= SPIKE[1]:
            cpu, latency = 97.0 + rng.gauss(0, 1), 480.0 + rng.gauss(0, 20)
        if host == "db-1" and phase < DRIFT_SECONDS:
            latency += 2.5 * phase  # a slow drift: forecast to breach, then breaching
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


class _Producer:
    """aiokafka (the engine's own client) on this thread's private event loop."""

    def __init__(self, bootstrap: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.producer = self.loop.run_until_complete(self._start(bootstrap))
        self.pending: list[asyncio.Future[Any]] = []

    @staticmethod
    async def _start(bootstrap: str) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, linger_ms=5, max_request_size=8 * 1024 * 1024
        )
        await producer.start()
        return producer

    def send(self, topic: str, key: bytes, value: bytes, partition: int) -> None:
        sent = self.producer.send(topic, key=key, value=value, partition=partition)
        self.pending.append(self.loop.run_until_complete(sent))

    def flush(self) -> None:
        """Wait until the broker has every message sent so far."""
        pending, self.pending = self.pending, []
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending))

    def close(self) -> None:
        self.loop.run_until_complete(self.producer.stop())
        self.loop.close()


class DemoFeed(threading.Thread):
    """Waits for the engine's API, applies the demo configurations, then feeds telemetry."""

    def __init__(
        self,
        bootstrap: str,
        api_url: str,
        topics: dict[str, str],
        partitions: int,
        admin_key: str = "",
    ) -> None:
        super().__init__(name="demo-feed", daemon=True)
        self.bootstrap = bootstrap
        self.api_url = api_url
        self.headers = {"Authorization": f"Bearer {admin_key}"} if admin_key else {}
        self.topics = topics
        self.partitions = partitions
        self.rng = random.Random(42)
        self.stopped = threading.Event()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop feeding and wait for the thread (before the broker it feeds goes away)."""
        self.stopped.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # the demo feed must never take the engine down
            log.exception("demo feed stopped")

    def _partition(self, entity: str) -> int:
        return (murmur2(entity.encode()) & 0x7FFFFFFF) % self.partitions

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).json().get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            self.stopped.wait(0.5)
        if self.stopped.is_set():
            return
        response = httpx.post(
            f"{self.api_url}/anomaly/config", json=CONFIGS, headers=self.headers, timeout=30
        )
        response.raise_for_status()
        producer = _Producer(self.bootstrap)
        try:
            self._feed(producer)
        finally:
            producer.close()

    def _feed(self, producer: _Producer) -> None:
        def send(stream: str, entity: str, message: dict[str, Any]) -> None:
            producer.send(
                self.topics[stream],
                entity.encode(),
                json.dumps(message).encode(),
                self._partition(entity),
            )

        start = time.time()
        for stream, entity, message in self._backfill(start):
            send(stream, entity, message)
        producer.flush()
        log.info("demo feed: two hours of history backfilled; playing live")
        log.info("demo feed: playing live; incidents open within ~15 s at %s/ui/", self.api_url)
        second = 0
        while not self.stopped.is_set():
            now = time.time()
            for host in HOSTS:
                send("metrics", host, metric(host, now, self.rng, live_second=second))
            phase = second % CYCLE
            burst = BURST[0] <= phase <= BURST[1]
            send("logs", "api-1", {"entity": "api-1", "events": logs(now, self.rng, burst)})
            if phase % 20 == 0 or phase == RARE_AT:
                for event in behaviour(now, rare=phase == RARE_AT):
                    send("behavior", "user-42", event)
            producer.flush()
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


def start_feed(settings: Settings) -> Callable[[], None]:
    """Start the feed against the engine these settings describe and print the dashboard's URL;
    returns the function that stops the feed."""
    host = settings.api_host if settings.api_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    api_url = f"http://{host}:{settings.api_port}"
    admin_keys = keys_in(settings.admin_key)
    feed = DemoFeed(
        settings.kafka_bootstrap_servers,
        api_url,
        {
            "metrics": settings.metrics_topic,
            "logs": settings.logs_topic,
            "behavior": settings.behavior_topic,
        },
        settings.partitions,
        admin_key=admin_keys[0] if admin_keys else "",
    )
    feed.start()
    print(
        f"anomaly-engine demo: open the dashboard at {api_url}/ui/ (the feed starts once the "
        "worker is ready)",
        file=sys.stderr,
        flush=True,
    )
    return feed.stop
