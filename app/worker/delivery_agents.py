"""Delivery in the worker: the dispatcher built from the settings, and one agent per channel
(``deliver_<channel>``) that reads the alerts topic and hands each incident event to it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from faust.types import StreamT

from app.worker.metrics import EngineMetrics
from app.worker.settings import Settings
from app.worker.transport import EngineApp
from app.worker.views import SilenceStore, TopicView
from incidents.notify import Dispatcher
from incidents.notify.channels import build_channels
from incidents.notify.retry import RetryPolicy
from incidents.redact import Redactor

log = logging.getLogger(__name__)


def build_dispatcher(
    settings: Settings,
    app: EngineApp,
    silences: SilenceStore,
    redactor: Redactor,
    metrics: EngineMetrics,
) -> Dispatcher:
    """The configured channels behind the delivery stages; closed when the worker stops."""
    dispatcher = Dispatcher(
        build_channels(settings.channel_settings()),
        silences.all,
        RetryPolicy(
            base=settings.delivery_retry_base_s,
            max_attempts=settings.delivery_max_attempts,
            max_delay=max(settings.delivery_max_delay_s, settings.delivery_retry_base_s),
        ),
        timeout=settings.delivery_timeout_s,
        flush=app.producer.flush,
        redactor=redactor,
        metrics=metrics,
    )
    app.stop_hooks.append(dispatcher.close)
    return dispatcher


def add_delivery_agents(
    app: EngineApp,
    settings: Settings,
    alerts_topic: Any,
    dispatcher: Dispatcher,
    deliveries: Any,
    silence_view: TopicView,
) -> None:
    """One agent per channel on the alerts topic; ``deliveries`` is the ledger table."""
    for name in dispatcher.channels:
        agent = delivery_agent(name, dispatcher, deliveries, silence_view, settings.alerts_topic)
        app.agent(alerts_topic, name=f"deliver_{name}")(agent)


def delivery_agent(
    name: str,
    dispatcher: Dispatcher,
    deliveries: Any,
    silence_view: TopicView,
    alerts_topic_name: str,
) -> Callable[[StreamT[bytes]], Awaitable[None]]:
    async def deliver(stream: StreamT[bytes]) -> None:
        await silence_view.ready.wait()
        async for raw in stream:
            try:
                event = orjson.loads(raw)
            except orjson.JSONDecodeError:
                log.warning("unreadable record on %s skipped", alerts_topic_name)
                continue
            if isinstance(event, dict) and "incident_id" in event:
                current = stream.current_event
                partition = current.message.partition if current is not None else None
                try:
                    await dispatcher.handle(name, event, deliveries, partition)
                except Exception:  # a bug must cost one delivery, not the channel's agent
                    log.exception("delivering %s to %s failed", event["incident_id"], name)

    deliver.__name__ = deliver.__qualname__ = f"deliver_{name}"
    return deliver
