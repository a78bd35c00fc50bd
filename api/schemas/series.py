"""``GET /anomaly/series``: an entity's recent points with their band, baseline and forecast."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SeriesPointOut(BaseModel):
    ts: float = Field(description="Event time, epoch seconds")
    values: list[float | None] = Field(description="Values in feature order (null: a gap)")
    score: float | None
    threshold: float | None
    is_anomaly: bool = Field(description="The detector flagged the point")
    alert: bool = Field(description="Flagged and passed suppression")
    incident_id: str | None = Field(default=None, description="Set on the point that opened one")
    lower: list[float | None] = Field(
        description="Per feature, the alert band's lower edge: center - threshold × spread"
    )
    upper: list[float | None] = Field(description="Per feature, center + threshold × spread")


class BaselineOut(BaseModel):
    feature: str
    center: float | None
    spread: float | None


class SeriesOut(BaseModel):
    model_id: str
    model_version: str
    entity: str
    stream: str
    features: list[str] = Field(description="Feature names; empty for behaviour models")
    points: list[SeriesPointOut] = Field(description="Oldest first")
    baseline: list[BaselineOut] = Field(description="The latest baseline per feature")
    threshold: float | None = Field(description="The latest threshold")
    step_seconds: float | None = Field(description="Median gap between the points")
    forecast: dict[str, Any] | None = Field(
        default=None, description="Per feature, trend and forecast of the next `horizon` steps"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_id": "metrics-v1",
                    "model_version": "1.0",
                    "entity": "host-1",
                    "stream": "metrics",
                    "features": ["feature_0", "feature_1"],
                    "points": [
                        {
                            "ts": 1795766440.0,
                            "values": [160.0, 5.0],
                            "score": 12.0,
                            "threshold": 1.5,
                            "is_anomaly": True,
                            "alert": True,
                            "incident_id": "inc-3f2a9c1d5e7b8a60",
                            "lower": [92.5, 3.5],
                            "upper": [107.5, 6.5],
                        }
                    ],
                    "baseline": [
                        {"feature": "feature_0", "center": 100.0, "spread": 5.0},
                        {"feature": "feature_1", "center": 5.0, "spread": 1.0},
                    ],
                    "threshold": 1.5,
                    "step_seconds": 10.0,
                    "forecast": None,
                }
            ]
        }
    )
