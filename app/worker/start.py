"""Start a worker: the embedded broker when no bootstrap address is set, the topics, the engine."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from api.security import usage_hint
from app.worker.engine import Engine
from app.worker.gc_policy import tune_collector
from app.worker.kafka.broker import EmbeddedBroker
from app.worker.kafka.embedded import BROKER_NAMES, start_embedded
from app.worker.kafka.kafka_broker import EmbeddedKafka
from app.worker.logformat import EngineWorker, console_line
from app.worker.malloc_policy import keep_freed_memory
from app.worker.settings import Settings
from app.worker.topics import ensure_topics
from detectors.kernel import KERNEL

log = logging.getLogger(__name__)


def kafka_data_dir(settings: Settings) -> Path:
    """Where the embedded Apache Kafka keeps its storage: ``<data dir>/kafka``, by default
    ``.anomaly-data/kafka`` (one broker for every worker started from this folder)."""
    return Path(settings.data_dir or ".anomaly-data") / "kafka"


def run_worker(
    settings: Settings, on_start: Callable[[Settings], Callable[[], None]] | None = None
) -> None:
    """Run until SIGINT/SIGTERM; stop the embedded broker (if started here) on the way out.

    ``on_start`` is called with the settings in use (the embedded broker's address included)
    just before the worker starts, e.g. to start the demo feed; what it returns is called when
    the worker has stopped, before the embedded broker stops."""
    tune_collector()  # fewer young collections: the tail of produce → incident (gc_policy)
    keep_freed_memory()  # no page faults for each large REST request (malloc_policy)
    stop_extra: Callable[[], None] | None = None
    broker: EmbeddedKafka | EmbeddedBroker | None = None
    if not settings.kafka_bootstrap_servers:
        broker = start_embedded(
            settings.broker, kafka_data_dir(settings), settings.embedded_broker_port
        )
        settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
    try:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(ensure_topics(settings))
        engine = Engine(settings, embedded_broker_kind=broker.kind if broker else None)
        where = BROKER_NAMES[broker.kind] if broker else "broker"
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        for line in (
            f"anomaly-engine: {where} at {settings.kafka_bootstrap_servers}; "
            f"API at {api_url} (docs at /docs) once the worker is ready",
            f"anomaly-engine: {usage_hint(engine.api.state.options.keys, api_url)}",
            f"anomaly-engine: compiled modules: {KERNEL}",
        ):  # before Faust sets up logging: in the log format all the same
            print(console_line(line, settings.log_format, sys.stderr), file=sys.stderr, flush=True)
        if on_start is not None:
            stop_extra = on_start(settings)
        worker = EngineWorker(
            engine.app,
            loglevel=settings.log_level,
            loop=loop,
            log_format=settings.log_format,
            redactor=engine.redactor,
        )
        worker.execute_from_commandline()
    finally:
        if stop_extra is not None:
            stop_extra()
        if broker is not None:
            broker.stop()
