"""Helpers for integration tests: worker processes, Kafka producers and readers, polling."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from app.worker.kafka.broker import free_port
from app.worker.kafka.embedded import BROKER_NAMES, choose_kind
from app.worker.kafka.kafka_runtime import java_major
from app.worker.metadata import topic_partitions

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

README_CONFIG = {
    "configs": [
        {
            "model_id": "metrics-v1",
            "model_version": "1.0",
            "detector": "zscore",
            "params": {"mean": [100, 5], "std": [5, 1], "threshold": 1.5},
            "threshold_strategy": "adaptive",
            "adaptive_sensitivity": 2.5,
            "history_window": 64,
            "cooldown": 1,
            "alert_channels": ["pagerduty", "slack"],
        }
    ]
}


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def session_broker() -> str:
    """What the integration tests run on, for the report's header."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        return f"the broker at {given} (KAFKA_BOOTSTRAP_SERVERS)"
    if docker_answers():
        return "docker-compose.yml's kafka service"
    return BROKER_NAMES[embedded_kind()]


def embedded_kind() -> str:
    requested = os.environ.get("ANOMALY_BROKER", "auto")
    return choose_kind(requested, java_major() if requested == "auto" else None)


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except (httpx.HTTPError, OSError) as exc:
            last_error = exc
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error})")


def two_configured_workers(spawn: Callable[[], Any]) -> tuple[Any, Any]:
    """Start two workers in one group, wait until they split the four partitions and are both
    ready, apply the README configuration on the first and wait until the second has it."""
    first, second = spawn(), spawn()

    def split() -> bool:
        mine, theirs = first.health()["assigned_partitions"], second.health()["assigned_partitions"]
        return bool(mine) and bool(theirs) and sorted(mine + theirs) == [0, 1, 2, 3]

    wait_until(split, 60, "the two workers to share the four partitions", interval=0.3)
    wait_until(
        lambda: first.health()["status"] == second.health()["status"] == "ok", 60, "both ready"
    )
    assert first.post("/anomaly/config", README_CONFIG).status_code == 200
    wait_until(
        lambda: second.get("/anomaly/config/metrics-v1").status_code == 200, 10, "config on both"
    )
    return first, second


def engine_env(bootstrap: str, names: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANOMALY_")}
    env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    env.update({f"ANOMALY_{key.upper()}": value for key, value in names.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class EngineProcess:
    """`python -m app run` as a subprocess with its own API port, data dir and log file."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = {
            **env,
            "ANOMALY_API_PORT": str(self.port),
            "ANOMALY_DATA_DIR": str(workdir / "data"),
        }
        self.log_path = workdir / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def health(self) -> dict[str, Any]:
        return httpx.get(self.url + "/health", timeout=2).json()  # type: ignore[no-any-return]

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            return self.health().get("status") == "ok"

        try:
            wait_until(ready, timeout, f"worker on port {self.port} to be ready", interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker log ---\n{self.log_tail()}") from None

    def stop(self, timeout: float = 30) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it does not exit."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    # HTTP helpers
    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=30)

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=60)

    def alerts(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/anomaly/alerts", **params)
        response.raise_for_status()
        return response.json()["alerts"]  # type: ignore[no-any-return]


def point(model_id: str, entity: str, ts: float, values: Any) -> bytes:
    return json.dumps({"model_id": model_id, "entity": entity, "ts": ts, "values": values}).encode()


async def _produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=key, value=value) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce_aiokafka(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]
) -> None:
    """Produce with aiokafka (murmur2 partitioner, like Java clients) and wait for the acks."""
    asyncio.run(_produce(bootstrap, topic, list(messages)))


def produce_confluent(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    partitioner: str | None = None,
) -> None:
    """Produce with confluent-kafka (librdkafka), by default with its own CRC32 partitioner."""
    from confluent_kafka import Producer

    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    if partitioner:
        config["partitioner"] = partitioner
    producer = Producer(config)
    errors: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(30)
    assert remaining == 0 and not errors, f"confluent-kafka delivery failed: {errors or remaining}"


async def _read(
    bootstrap: str, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:
        partitions = None
        deadline = time.monotonic() + timeout
        while not partitions and time.monotonic() < deadline:
            partitions = await topic_partitions(consumer, topic)
        assert partitions, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            # ``until`` is asked only of the whole topic as it is (every partition read to its
            # high watermark), so a count it checks is not a count of what was read too early
            ends = await consumer.end_offsets(tps)
            while not await _reached(consumer, ends) and time.monotonic() < deadline:
                await _fetch(consumer, records)
            if time.monotonic() >= deadline or until(records):
                break
            await _fetch(consumer, records)  # waits up to 100 ms for more
    finally:
        await consumer.stop()
    return records


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def _fetch(consumer: AIOKafkaConsumer, records: list[dict[str, Any]]) -> None:
    batches = await consumer.getmany(timeout_ms=100)
    for tp, batch in batches.items():
        for message in batch:
            records.append(
                {
                    "partition": tp.partition,
                    "offset": message.offset,
                    "key": message.key,
                    "value": json.loads(message.value) if message.value else None,
                }
            )


def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30,
) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning, all partitions assigned directly (no group join),
    until ``until(records)`` holds or the timeout passes; returns what was read. ``until`` is
    checked only once every partition is read to its high watermark as of that check (the end
    of the topic then), so ``lambda rs: True`` reads the topic to its end, and a check that
    exactly one record of a kind is there counts all the records that are."""
    return asyncio.run(_read(bootstrap, topic, until, timeout))
