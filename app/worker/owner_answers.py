"""The requests the worker that owns an entity answers (``agent.ask`` on the score requests
topic, or directly for a dry run on the owner): a REST batch scored on the entity's row, a
verdict on one of its incidents, its recent series. The asking side is :class:`app.worker.engine.Engine`
(``score``, ``feedback``, ``series``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np
from faust.types import StreamT

from api.nogc import paused_gc
from app.worker.engine_protocol import EngineProtocol
from app.worker.series import series_reply
from app.worker.views import TopicView
from detectors import DetectorError
from incidents.feedback import FeedbackRefused
from incidents.outcome import BatchOutcome
from incidents.points import TelemetryError
from incidents.scoring import score_batch

log = logging.getLogger(__name__)


class OwnerAnswers:
    """Answers the score, feedback and series requests for the entities this worker owns."""

    def __init__(self, engine: EngineProtocol, config_view: TopicView) -> None:
        self.engine = engine
        self.config_view = config_view  # requests wait until the configurations are read

    async def serve(self, stream: StreamT[Any]) -> AsyncIterator[dict[str, Any]]:
        await self.config_view.ready.wait()
        async for request in stream:  # unwrapped from agent.ask's envelope
            event = stream.current_event
            assert event is not None
            message = event.message
            source = (message.topic, message.partition, message.offset)
            try:
                reply = await self.answer(request, source)
            except Exception as exc:  # a bug must cost one request, not the agent
                log.exception("a score request failed")
                reply = {"error": "internal", "message": type(exc).__name__}
            yield reply

    async def answer(
        self, request: Mapping[str, Any], source: tuple[str, int, int] | None
    ) -> dict[str, Any]:
        """The reply to a score (or series, or feedback) request; ``source`` is the request's
        message, None for a dry run answered without the hop (``Engine.owns_recovered``)."""
        if request.get("kind") == "series":
            return series_reply(self.engine, request)
        if request.get("kind") == "feedback":
            return await self.feedback(request, source)
        model_id = request["model_id"]
        config = self.engine.model_config(model_id)
        if config is None:
            return {"error": "unknown_model", "message": f"no configuration for model {model_id!r}"}
        if config.stream != "metrics":
            return {
                "error": "invalid",
                "message": f"model {model_id!r} scores {config.stream} events: send them on the "
                f"{config.stream} topic; /anomaly/score takes metrics models",
            }
        values = np.asarray(request["values"], dtype=float)  # null (a gap) -> NaN
        entity = request["entity"]
        learn = not request["dry_run"]

        def run(state: Mapping[str, Any] | None, shared: Mapping[str, Any] | None) -> BatchOutcome:
            return score_batch(
                config,
                entity,
                state,
                np.asarray(request["ts"], dtype=float),
                values,
                learn=learn,
                source="rest",
                entity_state=shared,
                horizon=request.get("horizon") or 0,
                labels=request.get("labels"),
                cache=self.engine.live,
            )

        pending = self.engine.pending_writes()
        try:
            with paused_gc():  # no await inside
                outcomes, events = self.engine.apply_message(
                    entity,
                    source[1] if source else self.engine.partition_of(entity),
                    source if learn else None,
                    [(config, run)],
                    pending,
                )
        except (TelemetryError, DetectorError) as exc:
            return {"error": "invalid", "message": str(exc)}
        pending.flush()
        await self.engine.publish_events(events)
        await pending.delivered()  # the answer promises the points are kept
        if not outcomes:  # a replayed request: its asker is gone
            return {"error": "invalid", "message": "this request was already applied"}
        [outcome] = outcomes
        with paused_gc():
            columns = outcome.columns()  # a third of one object per point: 100k points fit
        return {
            "model_version": config.model_version,
            "points_seen": outcome.points_seen,
            "columns": columns,
            "incidents": outcome.events,
            "insights": outcome.insights or None,
        }

    async def feedback(
        self, request: Mapping[str, Any], source: tuple[str, int, int] | None
    ) -> dict[str, Any]:
        """On the owner: the verdict applied to the entity's row, like a message of its own."""
        entity, incident_id = request["entity"], request["incident_id"]
        steps, planned = self.engine.dismissal_of(entity, incident_id, request["verdict"])
        pending = self.engine.pending_writes()
        partition = source[1] if source else self.engine.partition_of(entity)
        try:
            outcomes, events = self.engine.apply_message(entity, partition, source, steps, pending)
        except FeedbackRefused as exc:
            return {"error": exc.reason, "message": str(exc)}
        except (TelemetryError, DetectorError) as exc:
            return {"error": "invalid", "message": str(exc)}
        pending.flush()
        await self.engine.publish_events(events)
        await pending.delivered()
        if not outcomes:  # a replayed request: its asker is gone
            return {"error": "invalid", "message": "this request was already applied"}
        [plan] = planned
        resolved = [e for e in events if e["event"] == "resolve"]
        return {
            "incident_id": incident_id,
            "entity": entity,
            "model_id": plan.incident["model_id"],
            "verdict": request["verdict"],
            "status": "resolved" if resolved else "open",
            "resolved_at": resolved[0]["resolved_at"] if resolved else None,
            "learned": dict(plan.learned),
        }
