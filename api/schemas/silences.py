"""Silences: matchers, a time range and an optional daily or weekly recurrence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.strict import StrictIn

WEEKLY_SILENCE_EXAMPLE: dict[str, Any] = {
    "matchers": {"entity": "~db-.*"},
    "starts_at": "2026-11-27T00:00:00Z",
    "ends_at": "2026-12-31T00:00:00Z",
    "recurrence": {
        "kind": "weekly",
        "days": ["sun"],
        "start": "02:00",
        "end": "04:00",
        "timezone": "Europe/Paris",
    },
    "comment": "weekly database maintenance",
    "created_by": "ops@example.com",
}


class RecurrenceIn(StrictIn):
    kind: Literal["daily", "weekly"]
    start: str = Field(description="HH:MM wall-clock time in `timezone`", examples=["22:00"])
    end: str = Field(description="HH:MM; before `start` crosses midnight", examples=["06:00"])
    days: list[str] | None = Field(default=None, description='weekly: e.g. ["sat", "sun"]')
    timezone: str = Field(default="UTC", description="An IANA zone, e.g. Europe/Paris")


class SilenceIn(StrictIn):
    matchers: dict[str, str] = Field(
        min_length=1,
        description="On model_id, entity, source, severity: exact text or `~regex`",
        examples=[{"entity": "~db-.*", "severity": "warning"}],
    )
    starts_at: str | float | None = Field(
        default=None, description="ISO-8601 or epoch seconds; default now"
    )
    ends_at: str | float = Field(description="ISO-8601 or epoch seconds")
    recurrence: RecurrenceIn | None = None
    comment: str = Field(default="", max_length=2048)
    created_by: str = Field(default="", max_length=200)

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        strict=True,
        json_schema_extra={"examples": [WEEKLY_SILENCE_EXAMPLE]},
    )


class SilenceOut(BaseModel):
    id: str
    matchers: dict[str, str]
    starts_at: str
    ends_at: str
    recurrence: dict[str, Any] | None = None
    comment: str = ""
    created_by: str = ""
    active: bool = Field(description="Active now (wall clock)")


class SilencesOut(BaseModel):
    silences: list[SilenceOut]
