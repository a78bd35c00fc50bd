"""`GET /anomaly/series`: the recent points of one (model, entity), for charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import responses
from api.deps import EngineDep, ReadAccess
from api.routing import GuardedRoute
from api.schemas.series import SeriesOut

router = APIRouter(prefix="/anomaly", tags=["series"], route_class=GuardedRoute)


@router.get(
    "/series",
    response_model=SeriesOut,
    responses={
        **responses.READ,
        **responses.UNAVAILABLE,
        **responses.not_found(
            "no configuration for model 'metrics-v9'", "No configuration for the model"
        ),
    },
)
async def series(
    engine: EngineDep,
    _: ReadAccess,
    model_id: Annotated[str, Query(min_length=1, max_length=200)],
    entity: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most recent points")] = 300,
    horizon: Annotated[
        int, Query(ge=0, le=1_000, description="Forecast steps (0: no forecast)")
    ] = 10,
) -> SeriesOut:
    """The entity's recent points under the model, oldest first: values, score, threshold,
    whether each was flagged or alerted, the incident it opened, and the alert band
    (center ± threshold × spread per feature); with the latest baseline and, for metrics and
    logs models, each feature's forecast of the next `horizon` steps.

    The worker that owns the entity answers (whichever worker receives the request), from the
    last 300 points it scored of the key, kept in its memory: a restarted worker, or one that
    has just taken over the entity's partition, shows the points it scored since. Read scope.
    """
    reply = await engine.series(model_id, entity, limit, horizon)
    return SeriesOut(**reply)
