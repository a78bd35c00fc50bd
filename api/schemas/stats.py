"""``GET /anomaly/stats``: counters per model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.score import QualityOut


class ModelStatsOut(BaseModel):
    points: int
    points_by_version: dict[str, int] = Field(
        default_factory=dict, description="Points scored under each model version"
    )
    anomalies: int
    alerts: int
    incidents_opened: int
    incidents_resolved: int
    false_positives: int = Field(
        default=0,
        description="Verdicts that alerts were false positives (feedback; never from labels)",
    )
    predicted_breaches: int = 0
    suppressed: dict[str, int] = Field(description="Flagged points that did not alert, by reason")
    quality: QualityOut | None = Field(
        default=None,
        description="The alerts against labels sent with the points (windows count once ended)",
    )


class StatsOut(BaseModel):
    models: dict[str, ModelStatsOut]
