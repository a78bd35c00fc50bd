"""``POST /anomaly/score``: a telemetry batch (points or columns, labels, horizon) and its outcome
per point, as points or columns, with the quality against the labels."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from api.records import RecordColumns, columns_of, record_columns
from api.schemas.strict import StrictIn


def _check_number(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{where} must be a number or null, got {value!r}")


class RecordIn(StrictIn):
    ts: str | float = Field(description="ISO-8601 (UTC without offset) or epoch seconds")
    values: list[float | None] | dict[str, float | None] = Field(
        description="Values in feature order, or an object by feature name"
    )

    @field_validator("ts", mode="before")
    @classmethod
    def _ts_type(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"ts must be ISO-8601 text or epoch seconds, got {value!r}")
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values_type(cls, value: Any) -> Any:
        if isinstance(value, list):
            for i, item in enumerate(value):
                _check_number(item, f"values[{i}]")
        elif isinstance(value, dict):
            for name, item in value.items():
                _check_number(item, f"values.{name}")
        else:
            raise ValueError("values must be a list of numbers or an object by feature name")
        return value


# The columnar form of `records`, documented beside the list (validated by ``columns_of``).
_RECORD_COLUMNS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "RecordColumns",
    "description": "The records as columns, the form of the telemetry topics' columnar batches "
    "(decoded straight into arrays: the form for large batches)",
    "properties": {
        "ts": {
            "type": "array",
            "minItems": 1,
            "items": {"anyOf": [{"type": "string"}, {"type": "number"}]},
            "description": "A time per point: ISO-8601 (UTC without offset) or epoch seconds",
        },
        "values": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "array", "items": {"anyOf": [{"type": "number"}, {"type": "null"}]}},
            "description": "A list per feature, with a value per point (null: a gap)",
        },
    },
    "required": ["ts", "values"],
    "additionalProperties": False,
}


_SCORE_IN_EXAMPLE: dict[str, Any] = {
    "model_id": "metrics-v1",
    "entity": "host-1",
    "records": [
        {"ts": "2026-11-27T08:00:00Z", "values": [101.0, 5.0]},
        {"ts": "2026-11-27T08:00:10Z", "values": [160.0, 5.2]},
    ],
    "labels": [0, 1],
    "dry_run": True,
}


def _score_in_schema(schema: dict[str, Any]) -> None:
    records = schema["properties"]["records"]
    schema["properties"]["records"] = {
        "anyOf": [
            {key: value for key, value in records.items() if key not in ("title", "description")},
            _RECORD_COLUMNS_SCHEMA,
        ],
        "title": records.get("title", "Records"),
        "description": records.get("description", ""),
    }
    schema["examples"] = [_SCORE_IN_EXAMPLE]


class ScoreIn(StrictIn):
    model_id: str = Field(min_length=1, max_length=200)
    entity: str = Field(
        min_length=1, max_length=500, pattern=r"^[^\x00]", description="Not starting with NUL"
    )
    records: list[RecordIn] = Field(
        min_length=1,
        description='A list of {"ts", "values"} points, or the same as columns: {"ts": [...], '
        '"values": [[feature 0 ...], [feature 1 ...]]} (decoded straight into arrays: the '
        "form for large batches)",
    )
    labels: list[Literal[0, 1]] | None = Field(
        default=None, description="Ground truth per record (1 = anomaly) for precision/recall"
    )
    horizon: int | None = Field(default=None, ge=1, le=10_000)
    results_as: Literal["points", "columns"] = Field(
        default="points",
        description='"columns": the points\' outcomes as `columns` (a list per field, with no '
        "object per point: the form for large batches) instead of `results`",
    )
    dry_run: bool = Field(default=False, description="Score without touching state or incidents")

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        strict=True,
        json_schema_extra=_score_in_schema,
    )

    @field_validator("records", mode="wrap")
    @classmethod
    def _records_as_columns(
        cls, records: Any, handler: ValidatorFunctionWrapHandler
    ) -> list[RecordIn] | RecordColumns:
        """Plain records become :class:`RecordColumns` in one pass; any other goes through
        ``RecordIn`` one by one, whose errors name the record and field. The columnar form
        (an object) becomes :class:`RecordColumns` or an error naming the wrong entry; records
        already turned into columns (:func:`api.records.compact_records`) stay as they are."""
        if isinstance(records, RecordColumns):
            return records
        if isinstance(records, dict):
            return columns_of(records)
        columns = record_columns(records)
        if columns is not None:
            return columns
        validated: list[RecordIn] = handler(records)
        return validated

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_not_booleans(cls, labels: Any) -> Any:
        if isinstance(labels, list):
            for i, label in enumerate(labels):
                if isinstance(label, bool):
                    raise ValueError(f"labels[{i}] must be 0 or 1, got {str(label).lower()}")
        return labels

    @field_validator("labels")
    @classmethod
    def _labels_match(cls, labels: list[int] | None, info: ValidationInfo) -> list[int] | None:
        records = info.data.get("records")
        if labels is not None and records is not None and len(labels) != len(records):
            raise ValueError(f"labels has {len(labels)} entries for {len(records)} records")
        return labels


class PointOut(BaseModel):
    ts: float
    score: float | None
    threshold: float
    is_anomaly: bool = Field(description="The detector flagged the point")
    correlated: list[dict[str, Any]] = Field(
        default_factory=list, description="For flagged points: signals that moved with it, with r"
    )
    warm: bool
    alert: bool = Field(default=False, description="Flagged and passed suppression")
    suppressed_by: str | None = Field(
        default=None, description="Why a flagged point did not alert or open an incident"
    )
    incident_id: str | None = Field(default=None, description="Set on the point that opened one")
    root_cause: str | None = Field(
        default=None, description="For flagged points: the deviant features with their numbers"
    )


class QualityOut(BaseModel):
    precision: float
    recall: float
    f1: float
    accuracy: float = Field(description="Points whose alert matched their label")
    tp: int
    fp: int
    fn: int
    tn: int
    event_precision: float = Field(
        description="Alarms (runs of alerts, each counted once) that overlap a label window"
    )
    event_recall: float = Field(
        description="Label windows detected; an alarm detects one window at most"
    )
    event_f1: float
    windows: int
    detected: int
    alarms: int
    false_alarms: int
    mean_delay_points: float | None = Field(
        description="Points from a window's start to its first alert"
    )
    mean_delay_seconds: float | None = None
    points: int


class ResultColumnsOut(BaseModel):
    """The outcomes of the points as columns, one entry per point in each list."""

    ts: list[float]
    score: list[float | None]
    threshold: list[float]
    is_anomaly: list[bool]
    warm: list[bool]
    alert: list[bool]
    extra: list[tuple[int, dict[str, Any]]] = Field(
        description="[point index, {suppressed_by, incident_id, root_cause, correlated}] for the "
        "points with any of these fields (the others have none)"
    )


class ScoreOut(BaseModel):
    model_id: str
    model_version: str
    entity: str
    dry_run: bool
    points_seen: int = Field(description="Points of this entity the model had scored before")
    anomalies: int
    results: list[PointOut]
    incidents: list[dict[str, Any]] = Field(description="Incident events this request produced")
    metrics: QualityOut | None = Field(default=None, description="With labels: how the alerts did")
    forecast: dict[str, Any] | None = Field(
        default=None, description="With horizon: per feature, trend and forecast"
    )
    columns: ResultColumnsOut | None = Field(
        default=None, description='With results_as "columns": the points as columns'
    )
