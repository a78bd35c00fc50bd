"""`GET /anomaly/alerts`: the incidents the engine published, from any worker."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import examples, responses
from api.deps import EngineDep, ReadAccess
from api.engine import InvalidInput
from api.routing import GuardedRoute
from api.schemas import AlertsOut
from incidents.telemetry import TelemetryError, parse_ts

router = APIRouter(prefix="/anomaly", tags=["alerts"], route_class=GuardedRoute)


@router.get(
    "/alerts",
    response_model=AlertsOut,
    responses={200: examples.json_content(examples.ALERTS_OUT), **responses.READ},
)
async def list_alerts(
    engine: EngineDep,
    _: ReadAccess,
    model_id: str | None = None,
    entity: str | None = None,
    since: Annotated[
        str | None,
        Query(description="Only incidents at or after this event time (ISO-8601 or epoch seconds)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> AlertsOut:
    """Incidents newest first (by event time). Every worker reads the whole alerts topic, so any
    worker answers with all of them."""
    since_ts = None
    if since is not None:
        try:
            since_ts = parse_ts(float(since) if _is_number(since) else since, "since")
        except TelemetryError as exc:
            raise InvalidInput(str(exc), field="since") from None
    alerts = engine.query_alerts(model_id=model_id, entity=entity, since=since_ts, limit=limit)
    return AlertsOut(alerts=alerts, count=len(alerts))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
