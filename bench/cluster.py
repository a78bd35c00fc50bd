"""The bench's own embedded broker and worker processes, and the Kafka helpers it drives them with.

:class:`Cluster` owns every process the bench starts (the broker, engine workers, bare Faust
agents) and stops all of them when it exits, on an error or Ctrl-C too; children are also asked
to die with the bench (``PR_SET_PDEATHSIG``) should the bench itself be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from app.worker.kafka.broker import free_port
from app.worker.kafka.embedded import embedded_broker
from app.worker.metadata import topic_partitions
from app.worker.settings import Settings, get_settings
from app.worker.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
PR_SET_PDEATHSIG = 1


class BenchError(RuntimeError):
    """A measurement could not be taken; the message says why."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def topic_names(prefix: str, config_topic: str | None = None) -> dict[str, str]:
    """Settings (without the ``ANOMALY_`` prefix) giving a worker its own group and topics.

    ``config_topic`` lets workers of different runs share one configuration topic.

    Examples
    --------
    >>> names = topic_names("bench-x", config_topic="bench.config")
    >>> names["app_id"], names["metrics_topic"], names["config_topic"]
    ('bench-x', 'bench-x.telemetry.metrics', 'bench.config')
    """
    names = {
        "app_id": prefix,
        "metrics_topic": f"{prefix}.telemetry.metrics",
        "logs_topic": f"{prefix}.telemetry.logs",
        "behavior_topic": f"{prefix}.telemetry.behavior",
        "alerts_topic": f"{prefix}.anomaly.alerts",
        "config_topic": f"{prefix}.anomaly.config",
        "dlq_topic": f"{prefix}.anomaly.dlq",
        "audit_topic": f"{prefix}.anomaly.audit",
        "score_requests_topic": f"{prefix}.anomaly.score-requests",
        "silences_topic": f"{prefix}.anomaly.silences",
    }
    if config_topic:
        names["config_topic"] = config_topic
    return names


def is_secret_setting(name: str) -> bool:
    """Alert channel destinations and API keys, which the bench's workers never get.

    Examples
    --------
    >>> [is_secret_setting(n) for n in ("ANOMALY_SLACK_WEBHOOK_URL", "ANOMALY_ADMIN_KEY",
    ...                                 "ANOMALY_WEBHOOK_HEADERS", "ANOMALY_FETCH_MAX_WAIT_MS")]
    [True, True, True, False]
    """
    return name.startswith("ANOMALY_") and any(part in name for part in ("KEY", "URL", "HEADERS"))


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) a running process has used so far (``/proc``; NaN where
    there is none).

    >>> process_cpu_s(os.getpid()) > 0
    True
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Process:
    """A child process with its log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops us in order
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if not self.alive():
            tail = self.log_tail()
            last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
            raise BenchError(
                f"{self.name} exited with code {self.popen.returncode}: {last.strip()[:200]}"
                f"\n{tail}"
            )

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)


class Worker(Process):
    """``python -m app run``: one engine worker with its REST API on a free port."""

    def __init__(self, name: str, env: Mapping[str, str], workdir: Path) -> None:
        self.port = free_port()
        env = {
            **env,
            "ANOMALY_API_PORT": str(self.port),
            "ANOMALY_DATA_DIR": str(workdir / "data"),
        }
        super().__init__(name, [sys.executable, "-m", "app", "run"], env, workdir)
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=120)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Wait for ``/health`` to say ok; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if self.http.get("/health", timeout=2).json().get("status") == "ok":
                    return time.monotonic() - started
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def points_counted(self, model_id: str) -> int:
        """Points the engine counted for ``model_id`` (``GET /anomaly/stats``), over all workers."""
        models = self.http.get("/anomaly/stats", timeout=10).json().get("models", {})
        return int(models.get(model_id, {}).get("points", 0))

    def stop(self, timeout: float = 15.0) -> None:
        self.http.close()
        super().stop(timeout)


class Cluster:
    """The embedded broker plus every process started through it; a context manager.

    ``keep`` leaves the work directory (logs) in place for a look after the run.
    """

    def __init__(self, keep: bool = False, broker: str = "auto") -> None:
        self.keep = keep
        self.run_id = uuid.uuid4().hex[:6]
        self.workdir = Path(tempfile.mkdtemp(prefix=f"anomaly-bench-{self.run_id}-"))
        self.broker = embedded_broker(
            broker, self.workdir / "broker", preferred_port=0, log_path=self.workdir / "broker.log"
        )
        self.processes: list[Process] = []
        self.settings = get_settings()
        self.config_topic = f"bench-{self.run_id}.anomaly.config"

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def __enter__(self) -> Cluster:
        self.broker.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop(timeout=10)
        self.processes.clear()
        self.broker.stop()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ processes

    def names(self, label: str) -> dict[str, str]:
        """Fresh group and topics for one run, sharing the cluster's configuration topic."""
        return topic_names(f"bench-{self.run_id}-{label}", self.config_topic)

    def env(
        self, names: Mapping[str, str], extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """This process's environment (so ``ANOMALY_*`` tuning a user exported applies to the
        bench's workers too) with the bench's broker, group and topics, and without alert
        channels and API keys: a bench run must never page anyone, and calls the API keyless."""
        env = {k: v for k, v in os.environ.items() if not is_secret_setting(k)}
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap
        env.update({f"ANOMALY_{key.upper()}": value for key, value in names.items()})
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra or {})
        return env

    def start_worker(
        self, names: Mapping[str, str], extra_env: Mapping[str, str] | None = None
    ) -> Worker:
        worker = Worker(names["app_id"], self.env(names, extra_env), self.workdir / names["app_id"])
        self.processes.append(worker)
        return worker

    def start_process(self, name: str, argv: list[str], env: Mapping[str, str]) -> Process:
        process = Process(name, argv, env, self.workdir / name)
        self.processes.append(process)
        return process

    def stop(self, process: Process) -> None:
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def worker_settings(self, names: Mapping[str, str]) -> Settings:
        return get_settings(kafka_bootstrap_servers=self.bootstrap, **names)

    def create_topics(self, names: Mapping[str, str]) -> Settings:
        """Create the run's topics with the engine's own layout (``app.worker.topics``)."""
        settings = self.worker_settings(names)
        asyncio.run(ensure_topics(settings))
        return settings


# ---------------------------------------------------------------------- Kafka helpers


async def _produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes, bytes]],
    first_sent: list[float] | None = None,
) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_request_size=16 * 1024 * 1024
    )
    await producer.start()
    sent = 0
    try:
        pending = []
        for key, value in messages:
            if first_sent is not None and not sent:
                first_sent.append(time.time())
            pending.append(await producer.send(topic, key=key, value=value))
            sent += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes, bytes]],
    first_sent: list[float] | None = None,
) -> int:
    """Send ``messages`` (keyed: murmur2 partitioning, as the engine expects); wait for acks.

    ``first_sent``, when given, gets the wall-clock time (``time.time()``) at which the first
    message was handed to the client, once the producer is connected."""
    return asyncio.run(_produce(bootstrap, topic, messages, first_sent))


async def assigned_consumer(
    bootstrap: str, topic: str, *, from_end: bool = False, **options: Any
) -> AIOKafkaConsumer:
    """A started group-less consumer assigned every partition of ``topic``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **options
    )
    await consumer.start()
    try:
        partitions: set[int] | None = None
        deadline = time.monotonic() + 30
        while not partitions:
            if time.monotonic() > deadline:
                raise BenchError(f"topic {topic} does not exist")
            partitions = await topic_partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_end:
            await consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the positions now, not at the first fetch
                await consumer.position(tp)
        else:
            await consumer.seek_to_beginning(*tps)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
