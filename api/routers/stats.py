"""`GET /anomaly/stats`: per-model counters, including suppressed alerts by reason."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api import examples, responses
from api.deps import EngineDep, ReadAccess
from api.routing import GuardedRoute
from api.schemas.stats import ModelStatsOut, StatsOut

router = APIRouter(prefix="/anomaly", tags=["stats"], route_class=GuardedRoute)


@router.get(
    "/stats",
    response_model=StatsOut,
    responses={200: examples.json_content(examples.STATS_OUT), **responses.READ},
)
async def all_stats(engine: EngineDep, _: ReadAccess) -> StatsOut:
    """Points scored, anomalies flagged, alerts, incidents opened and resolved, and flagged
    points that did not alert, by reason (warmup, persistence, min_deviation, cooldown), for every
    model, summed over all workers."""
    report = engine.model_stats_report()
    return StatsOut(models={m: ModelStatsOut(**r) for m, r in report.items()})


@router.get(
    "/stats/{model_id}",
    response_model=ModelStatsOut,
    responses={
        200: examples.json_content(examples.MODEL_STATS),
        **responses.READ,
        **responses.not_found("no points scored yet for model 'metrics-v9'"),
    },
)
async def model_stats(model_id: str, engine: EngineDep, _: ReadAccess) -> ModelStatsOut:
    """The counters of one model."""
    report = engine.model_stats_report().get(model_id)
    if report is None:
        raise HTTPException(status_code=404, detail=f"no points scored yet for model {model_id!r}")
    return ModelStatsOut(**report)
