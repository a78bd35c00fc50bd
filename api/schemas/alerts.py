"""``GET /anomaly/alerts`` and an operator's feedback on an incident."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.strict import StrictIn


class AlertsOut(BaseModel):
    alerts: list[dict[str, Any]]
    count: int


class FeedbackIn(StrictIn):
    verdict: Literal["false_positive"] = Field(
        description="`false_positive`: the incident's points were normal. The model learns them "
        "as normal points and the incident resolves with this resolution. (A verdict that an "
        "alert was right teaches nothing and is not taken; labels judge alerts.)"
    )


class FeedbackOut(BaseModel):
    incident_id: str
    entity: str
    model_id: str = Field(description="The incident's model, whose false positives it counts")
    verdict: str
    status: Literal["resolved", "open"]
    resolved_at: str | None = Field(description="Event time: the incident's last elevated point")
    learned: dict[str, int] = Field(
        description="Points learned as normal, per metrics model of the incident"
    )
