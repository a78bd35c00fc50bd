"""`GET /anomaly/stats`: per-model counters, including suppressed alerts by reason."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import EngineDep
from api.schemas import ErrorOut, ModelStatsOut, StatsOut

router = APIRouter(prefix="/anomaly", tags=["stats"])


@router.get("/stats", response_model=StatsOut)
async def all_stats(engine: EngineDep) -> StatsOut:
    """Points scored, anomalies flagged, alerts, incidents opened and resolved, and flagged
    points that did not alert, by reason (warmup, persistence, min_deviation, cooldown), for every
    model, summed over all workers."""
    report = engine.model_stats_report()
    return StatsOut(models={m: ModelStatsOut(**r) for m, r in report.items()})


@router.get("/stats/{model_id}", response_model=ModelStatsOut, responses={404: {"model": ErrorOut}})
async def model_stats(model_id: str, engine: EngineDep) -> ModelStatsOut:
    """The counters of one model."""
    report = engine.model_stats_report().get(model_id)
    if report is None:
        raise HTTPException(status_code=404, detail=f"no points scored yet for model {model_id!r}")
    return ModelStatsOut(**report)
