"""Start a worker: the embedded broker when no bootstrap address is set, the topics, the engine."""

from __future__ import annotations

import asyncio
import logging
import sys

from faust import Worker

from api.security import usage_hint
from app.broker import EmbeddedBroker
from app.engine import Engine
from app.settings import Settings
from app.topics import ensure_topics

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; stop the embedded broker (if started here) on the way out."""
    broker: EmbeddedBroker | None = None
    if not settings.kafka_bootstrap_servers:
        broker = EmbeddedBroker(settings.embedded_broker_port).start()
        settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
    try:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(ensure_topics(settings))
        engine = Engine(settings, embedded_broker=broker is not None)
        where = "embedded Tansu broker" if broker else "broker"
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        print(
            f"anomaly-engine: {where} at {settings.kafka_bootstrap_servers}; "
            f"API at {api_url} (docs at /docs) once the worker is ready\n"
            f"anomaly-engine: {usage_hint(engine.api.state.options.keys, api_url)}",
            file=sys.stderr,
            flush=True,
        )
        worker = Worker(engine.app, loglevel=settings.log_level, loop=loop)
        worker.execute_from_commandline()
    finally:
        if broker is not None:
            broker.stop()
