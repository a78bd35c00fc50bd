"""Which embedded broker `make run`, the demo and the tests start when no bootstrap address is set.

Apache Kafka, the broker users run, when Java 17 or newer is present (its jars come from Maven
Central once, see ``app.worker.kafka.kafka_runtime``); Tansu, the memory-only static binary, otherwise.
``ANOMALY_BROKER=kafka`` or ``tansu`` forces either (``auto`` is the default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from app.worker.kafka.broker import BrokerError, EmbeddedBroker
from app.worker.kafka.kafka_broker import EmbeddedKafka
from app.worker.kafka.kafka_runtime import KAFKA_VERSION, MIN_JAVA, java_major

BrokerKind = Literal["kafka", "tansu"]
BROKER_NAMES = {"kafka": f"embedded Apache Kafka {KAFKA_VERSION}", "tansu": "embedded Tansu broker"}


def choose_kind(requested: str, java: int | None) -> BrokerKind:
    """The broker to start for ``requested`` (auto|kafka|tansu) given Java's major version.

    >>> choose_kind("auto", 17), choose_kind("auto", 11), choose_kind("auto", None)
    ('kafka', 'tansu', 'tansu')
    >>> choose_kind("tansu", 21), choose_kind("kafka", None)
    ('tansu', 'kafka')
    """
    if requested in ("kafka", "tansu"):
        return requested  # type: ignore[return-value]
    if requested != "auto":
        raise BrokerError(f"ANOMALY_BROKER={requested!r}: expected auto, kafka or tansu")
    return "kafka" if java is not None and java >= MIN_JAVA else "tansu"


def embedded_broker(
    requested: str,
    data_dir: Path,
    preferred_port: int = 9092,
    log_path: Path | None = None,
) -> EmbeddedKafka | EmbeddedBroker:
    """The chosen broker, not started yet; Kafka keeps its storage under ``data_dir``."""
    kind = choose_kind(requested, java_major() if requested == "auto" else None)
    if kind == "kafka":
        return EmbeddedKafka(data_dir, preferred_port, log_path=log_path)
    return EmbeddedBroker(preferred_port, log_path=log_path)


def start_embedded(
    requested: str,
    data_dir: Path,
    preferred_port: int = 9092,
    log_path: Path | None = None,
) -> EmbeddedKafka | EmbeddedBroker:
    """Start the chosen broker; Kafka keeps its storage under ``data_dir``."""
    return embedded_broker(requested, data_dir, preferred_port, log_path).start()
