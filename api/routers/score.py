"""`POST /anomaly/score`: score a batch of records over the same state as the stream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from api import examples, responses
from api.deps import EngineDep, ScoreAccess
from api.engine import InvalidInput, ScoreCommand
from api.nogc import paused_gc
from api.records import RecordColumns, compact_records
from api.routing import GuardedRoute
from api.schemas.score import ScoreIn, ScoreOut
from api.score_reply import points_to_columns, quality, score_reply


class ScoreRoute(GuardedRoute):
    """Plain records become columns as soon as the body is parsed (:func:`compact_records`):
    one object per record lives only inside the parse's pause of the collector."""

    prepare_body = staticmethod(compact_records)


router = APIRouter(prefix="/anomaly", tags=["scoring"], route_class=ScoreRoute)


@router.post(
    "/score",
    response_model=ScoreOut,
    responses={
        200: examples.json_content(examples.SCORE_OUT),
        **responses.READ,
        **responses.TOO_LARGE,
        **responses.RATE_LIMITED,
        **responses.UNAVAILABLE,
        **responses.not_found(
            "no configuration for model 'metrics-v9'; POST it to /anomaly/config",
            "No configuration for the model",
        ),
    },
)
async def score(
    body: Annotated[ScoreIn, Body(openapi_examples=examples.SCORE_IN)],
    engine: EngineDep,
    _: ScoreAccess,
) -> Response:
    """Score records of one entity with the model's detector, threshold and cooldown.

    The request runs on the worker that owns the entity, against the same per-entity state as the
    telemetry stream, so the answer is the same whichever worker receives it. Unless `dry_run`,
    the records train the state and anomalies open incidents like streamed points do. With
    `labels` (1 = anomaly per record), the alerts are judged point by point (precision, recall,
    F1, accuracy) and by event (a labelled window counts once, and so does an alarm, a run of
    alerts, which detects one window at most; detection delay); unless `dry_run`, the labels
    also feed the model's running quality counters (GET /anomaly/stats).
    With `horizon`, each feature's trend (slope, direction, change points) and a forecast of that
    many steps with 95 % prediction intervals are returned, and when the forecast is expected to
    leave the alert band. For large batches, `records` may be columns (`{"ts": [...], "values":
    [[feature 0 ...], ...]}`) and `results_as: "columns"` answers the points as columns too.

    Read scope; rate-limited per API key (or per client address without keys).
    """
    if len(body.records) > engine.max_points_per_request:
        raise InvalidInput(
            f"{len(body.records)} records is over the limit of {engine.max_points_per_request} "
            "per request; split the batch",
            field="records",
        )
    records: Sequence[Mapping[str, Any]] = (
        body.records
        if isinstance(body.records, RecordColumns)
        else [r.model_dump() for r in body.records]
    )
    outcome = await engine.score(
        ScoreCommand(
            model_id=body.model_id,
            entity=body.entity,
            records=records,
            dry_run=body.dry_run,
            horizon=body.horizon,
            labels=list(body.labels) if body.labels is not None else None,
        )
    )
    with paused_gc():  # no await inside
        return _answer(body, outcome)


def _answer(body: ScoreIn, outcome: Mapping[str, Any]) -> Response:
    columns = outcome.get("columns") or points_to_columns(outcome["points"])
    head = ScoreOut(
        model_id=body.model_id,
        model_version=outcome["model_version"],
        entity=body.entity,
        dry_run=body.dry_run,
        points_seen=outcome.get("points_seen", 0),
        anomalies=sum(columns["is_anomaly"]),
        results=[],
        incidents=outcome["incidents"],
        metrics=quality(columns, body.labels) if body.labels is not None else None,
        forecast=outcome.get("insights"),
    )
    answer = score_reply(head, columns, as_columns=body.results_as == "columns")
    return Response(answer, media_type="application/json")
