"""Integration fixtures: one broker for the session, real worker processes, real Kafka clients.

The broker is, in order: the one named by KAFKA_BOOTSTRAP_SERVERS; the `kafka` service of
docker-compose.yml through testcontainers when a Docker engine answers; else an embedded broker:
Apache Kafka where Java 17+ is present, Tansu otherwise (ANOMALY_BROKER=kafka|tansu forces one, as
for `make run`). The tests are the same in every mode; the report's header names the broker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.worker.kafka.broker import EmbeddedBroker
from app.worker.kafka.kafka_broker import EmbeddedKafka
from tests.integration.harness import EngineProcess, docker_answers, embedded_kind, engine_env

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a Kafka-protocol broker for the whole session."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    if docker_answers():
        from testcontainers.compose import DockerCompose

        # `docker compose up --wait` returns once the kafka healthcheck passes.
        with DockerCompose(ROOT, services=["kafka"], wait=True):
            yield "localhost:29092"
        return
    folder = tmp_path_factory.mktemp("broker")
    if embedded_kind() == "kafka":
        with EmbeddedKafka(folder / "kafka", preferred_port=0) as kafka:
            yield kafka.bootstrap
        return
    with EmbeddedBroker(preferred_port=0, log_path=folder / "tansu.log") as broker:
        yield broker.bootstrap


@pytest.fixture
def names() -> dict[str, str]:
    """Unique app id and topic names, so tests on one broker never see each other's data."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "app_id": f"it-{suffix}",
        "metrics_topic": f"it-{suffix}.telemetry.metrics",
        "logs_topic": f"it-{suffix}.telemetry.logs",
        "behavior_topic": f"it-{suffix}.telemetry.behavior",
        "alerts_topic": f"it-{suffix}.anomaly.alerts",
        "config_topic": f"it-{suffix}.anomaly.config",
        "dlq_topic": f"it-{suffix}.anomaly.dlq",
        "audit_topic": f"it-{suffix}.anomaly.audit",
        "score_requests_topic": f"it-{suffix}.anomaly.score-requests",
        "silences_topic": f"it-{suffix}.anomaly.silences",
    }


@pytest.fixture
def spawn(bootstrap: str, names: dict[str, str], tmp_path: Path) -> Iterator[object]:
    """Start worker processes on the session broker: ``spawn()`` returns a ready EngineProcess.

    ``spawn(env={"ANOMALY_SLACK_WEBHOOK_URL": ...})`` adds (or overrides) environment variables
    of that worker, e.g. its alert channels' settings.
    """
    started: list[EngineProcess] = []

    def _spawn(wait: bool = True, env: dict[str, str] | None = None) -> EngineProcess:
        process = EngineProcess(
            env={**engine_env(bootstrap, names), **(env or {})},
            workdir=tmp_path / f"worker-{len(started)}",
        )
        started.append(process)
        process.start()
        if wait:
            process.wait_ready()
        return process

    yield _spawn
    for process in started:
        process.stop()


@pytest.fixture
def engine(spawn: object) -> EngineProcess:
    """One running worker."""
    return spawn()  # type: ignore[operator,no-any-return]
