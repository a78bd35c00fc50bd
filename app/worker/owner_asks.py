"""The asking side of the requests answered by the worker that owns an entity
(:mod:`app.worker.owner_answers`): ``POST /anomaly/score``, feedback on an incident and
``GET /anomaly/series`` become a request to the owner over ``agent.ask`` (503 if none answers in
time); a dry run on the owner is answered here without the hop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
from faust.types import TP

from api.engine import (
    EngineUnavailable,
    IncidentNotOpen,
    InvalidInput,
    ScoreCommand,
    UnknownIncident,
    UnknownModel,
)
from api.nogc import paused_gc
from api.records import RecordColumns, columns_batch
from app.telemetry.messages import records_to_batch
from app.worker.admin_writes import AdminWrites
from app.worker.owner_answers import OwnerAnswers
from app.worker.settings import Settings
from app.worker.transport import EngineApp
from app.worker.views import AlertStore, ConfigStore
from incidents.config import ModelConfig
from incidents.points import TelemetryError


def score_request(command: ScoreCommand, config: ModelConfig) -> dict[str, Any]:
    """The request the owning worker scores: the records as arrays of times and rows."""
    records = command.records
    try:
        if isinstance(records, RecordColumns):
            batch = columns_batch(records, config, command.entity)
        else:
            batch = records_to_batch(records, config, command.entity)
    except TelemetryError as exc:
        raise InvalidInput(str(exc), field="records") from None
    return {
        "model_id": command.model_id,
        "entity": command.entity,
        "ts": np.asarray(batch.ts, dtype=float),
        "values": np.asarray(batch.values, dtype=float),
        "dry_run": command.dry_run,
        "horizon": command.horizon,
        "labels": command.labels,
    }


class OwnerAsks:
    """Sends the score, feedback and series requests to the worker that owns the entity."""

    def __init__(
        self,
        settings: Settings,
        app: EngineApp,
        *,
        configs: ConfigStore,
        alerts: AlertStore,
        score_requests: Any,
        answers: OwnerAnswers,
        admin: AdminWrites,
        partition_of: Callable[[str], int],
    ) -> None:
        self.settings = settings
        self.app = app
        self.configs = configs
        self.alerts = alerts
        self.score_requests = score_requests  # the agent that answers on the owner
        self.answers = answers
        self.admin = admin
        self.partition_of = partition_of

    async def score(self, command: ScoreCommand) -> dict[str, Any]:
        config = self.configs.model(command.model_id)
        if config is None:
            raise UnknownModel(
                f"no configuration for model {command.model_id!r}; POST it to /anomaly/config"
            )
        with paused_gc():  # no await inside
            request = score_request(command, config)
        if command.dry_run and self.owns_recovered(command.entity):
            reply = await self.answers.answer(request, None)  # read-only: no hop
        else:
            with paused_gc():
                # rows of finite numbers and NaN for a gap, which JSON (orjson) writes as null
                request.update(ts=request["ts"].tolist(), values=request["values"].tolist())
            reply = await self.ask_owner(command.entity, request)
        if reply.get("error") == "unknown_model":
            raise UnknownModel(reply["message"])
        if reply.get("error") == "internal":
            raise RuntimeError(f"scoring failed on the owning worker: {reply['message']}")
        if reply.get("error"):
            raise InvalidInput(reply["message"], field="records")
        return reply  # the points as columns: the API encodes its answer from them

    def owns_recovered(self, entity: str) -> bool:
        """This worker owns ``entity``'s partition and has recovered its tables, so a read-only
        request (a dry run) is answered here from the same rows the owner's agent would read,
        without the ``agent.ask`` round trip (the request and its reply each produced, fetched
        and JSON-decoded once more). Writing requests still go through the agent, which orders
        them per partition and records their offsets against replays."""
        if self.app.rebalancing or not self.app.tables.recovery.completed.is_set():
            return False
        tp = TP(self.settings.score_requests_topic, self.partition_of(entity))
        try:
            return tp in self.app.consumer.assignment()
        except Exception:  # no consumer or no assignment yet
            return False

    async def ask_owner(self, entity: str, request: dict[str, Any]) -> dict[str, Any]:
        """``request``'s reply from the worker that owns ``entity`` (503 if none in time)."""
        try:
            reply: dict[str, Any] = await asyncio.wait_for(
                self.score_requests.ask(key=entity.encode(), value=request),
                self.settings.request_timeout_s,
            )
        except TimeoutError:
            raise EngineUnavailable(
                f"the worker owning entity {entity!r} did not answer within "
                f"{self.settings.request_timeout_s:.0f} s"
            ) from None
        return reply

    async def feedback(
        self, incident_id: str, verdict: str, actor: str | None = None
    ) -> dict[str, Any]:
        """Apply ``verdict`` on an open incident, on the worker that owns its entity (the same
        steps as a feedback message on the metrics topic); returns what was done."""
        alert = self.alerts.get(incident_id)
        if alert is None:
            raise UnknownIncident(
                f"no incident {incident_id!r} (GET /anomaly/alerts lists the incidents kept)"
            )
        if alert.get("status") == "resolved":
            raise IncidentNotOpen(
                f"incident {incident_id} resolved at {alert.get('resolved_at')}"
                + (f" ({alert['resolution']})" if alert.get("resolution") else "")
                + "; feedback applies to open incidents"
            )
        entity = str(alert["entity"])
        request = {
            "kind": "feedback",
            "entity": entity,
            "incident_id": incident_id,
            "verdict": verdict,
        }
        reply = await self.ask_owner(entity, request)
        if reply.get("error") in ("not_open", "unknown_model"):
            raise IncidentNotOpen(reply["message"])
        if reply.get("error"):
            raise RuntimeError(f"the owning worker failed to apply it: {reply.get('message')}")
        await self.admin.audit(
            "incident.feedback",
            actor,
            model_id=reply["model_id"],
            incident_id=incident_id,
            verdict=verdict,
        )
        return reply

    async def series(self, model_id: str, entity: str, limit: int, horizon: int) -> dict[str, Any]:
        """The key's recent points and forecast, from the worker that owns the entity."""
        if self.configs.scored_as(model_id) is None:
            raise UnknownModel(f"no configuration for model {model_id!r}")
        request = {
            "kind": "series",
            "model_id": model_id,
            "entity": entity,
            "limit": limit,
            "horizon": horizon,
        }
        reply = await self.ask_owner(entity, request)
        if reply.get("error") == "unknown_model":
            raise UnknownModel(reply["message"])
        if reply.get("error"):
            raise RuntimeError(f"the owning worker failed to answer: {reply.get('message')}")
        return reply
