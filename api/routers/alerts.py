"""`GET /anomaly/alerts`: the incidents the engine published, from any worker."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api import examples, responses
from api.deps import AdminAccess, EngineDep, ReadAccess
from api.engine import InvalidInput
from api.routing import GuardedRoute
from api.schemas.alerts import AlertsOut, FeedbackIn, FeedbackOut
from incidents.points import TelemetryError, parse_ts

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


@router.post(
    "/alerts/{incident_id}/feedback",
    response_model=FeedbackOut,
    responses={
        200: examples.json_content(examples.FEEDBACK_OUT),
        **responses.WRITE,
        **responses.TOO_LARGE,
        **responses.not_found(
            "no incident 'inc-0000000000000000000a' (GET /anomaly/alerts lists the incidents kept)",
            "No such incident",
        ),
        **responses.CONFLICT,
    },
)
async def give_feedback(
    incident_id: str,
    body: Annotated[FeedbackIn, Body(openapi_examples=examples.FEEDBACK_IN)],
    engine: EngineDep,
    caller: AdminAccess,
) -> FeedbackOut:
    """Feedback on an open incident, kept apart from evaluation (labels judge alerts and are
    never learned). `false_positive`: on the worker that owns the incident's entity, each metrics
    model of the incident learns the incident's points as normal (the values its signals
    recorded), the incident resolves with `"resolution": "false_positive"` (a `resolve` event on
    the alerts topic and its channels), and `anomaly_false_positives_total` of the incident's
    model counts one. Answers once that is done. Admin scope; recorded on the audit topic."""
    done = await engine.feedback(incident_id, body.verdict, actor=caller.actor)
    return FeedbackOut(**done)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
