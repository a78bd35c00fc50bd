"""Request and response schemas of the REST API, one per direction.

Validation errors become 422 responses naming the field (see ``api.errors``); detector parameters
are checked by the detectors themselves, so the API and the stream agree on what is valid.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from api.records import RecordColumns, columns_of, record_columns
from detectors import THRESHOLD_STRATEGIES, DetectorError
from detectors.seasonal_config import check_bins, check_period, seasonality_params
from incidents.config import ALERT_CHANNELS, SILENT_AFTER, STATE_TTL, ModelConfig
from incidents.recommended import with_recommended
from incidents.validation import known_detectors, validate

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$"

README_CONFIG_EXAMPLE: dict[str, Any] = {
    "configs": [
        {
            "model_id": "metrics-v1",
            "model_version": "1.0",
            "detector": "zscore",
            "params": {"mean": [100, 5], "std": [5, 1], "threshold": 1.5},
            "threshold_strategy": "adaptive",
            "adaptive_sensitivity": 2.5,
            "history_window": 64,
            "cooldown": 1,
            "alert_channels": ["pagerduty", "slack"],
        }
    ]
}

# A weekly maintenance window: the silence schema's example and the docs' (api/examples.py)
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


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class ForecastIn(_In):
    season_length: int | None = Field(
        default=None, ge=2, le=1024, description="Points per season (Holt-Winters); none: Holt"
    )
    alpha: float = Field(default=0.3, gt=0, le=1, description="Level smoothing")
    beta: float = Field(default=0.1, ge=0, le=1, description="Trend smoothing")
    gamma: float = Field(default=0.1, ge=0, le=1, description="Seasonal smoothing")
    predictive_horizon: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="Alert when a forecast interval leaves the alert band within this many "
        "points (0: off)",
    )


class PersistenceIn(_In):
    k: int = Field(default=2, ge=1, le=64, description="Flagged points needed ...")
    n: int = Field(default=3, ge=1, le=64, description="... among the last n points")

    @model_validator(mode="after")
    def _k_at_most_n(self) -> PersistenceIn:
        if self.k > self.n:
            raise ValueError(f"k must be at most n, got k={self.k} and n={self.n}")
        return self


class SuppressionIn(_In):
    persistence: PersistenceIn = Field(default_factory=lambda: PersistenceIn())
    bypass_factor: float = Field(
        default=2.0, ge=1, description="A score this many times the threshold fires alone"
    )
    min_abs_deviation: float = Field(
        default=0.0, ge=0, description="Least |value - baseline| worth an alert, in value units"
    )
    min_rel_deviation: float = Field(
        default=0.01, ge=0, description="Least |value - baseline| / |baseline| worth an alert"
    )
    interval: float = Field(
        default=0.0,
        ge=0,
        description="Seconds between points the persistence window and bypass are for; a key "
        "sampled less often gets a longer window and a lower bypass, as often per day (0: per point)",
    )


class SeasonalityIn(_In):
    """A seasonal profile to score against (``detectors.seasonality``); stored in one form:
    ``{"period": "auto"}`` or ``{"period": seconds, "bins": n}``."""

    period: float | Literal["auto"] = Field(
        description='Seconds in a season, at most 4 weeks (86400: a day), or "auto": find a '
        "daily or weekly cycle per entity"
    )
    bins: int | None = Field(
        default=None,
        description="Bins of a declared period (default 48, or 168 from a week on); "
        "a bin spans at least 1 second",
    )

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> Any:
        try:
            return check_period(value)
        except DetectorError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("bins")
    @classmethod
    def _bins(cls, value: int | None, info: ValidationInfo) -> int | None:
        period = info.data.get("period")
        if period is None:  # the period was refused: that is the error to show
            return value
        try:
            checked = seasonality_params({"period": period, "bins": value})
        except DetectorError as exc:
            raise ValueError(str(exc)) from None
        return None if checked is None else checked.get("bins")

    @model_serializer
    def _normal_form(self) -> dict[str, Any]:
        if self.period == "auto":
            return {"period": "auto"}
        return {"period": self.period, "bins": check_bins(self.bins, self.period)}


class ModelConfigIn(_In):
    """One detector configuration."""

    model_id: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    model_version: str = Field(
        default="1",
        min_length=1,
        max_length=100,
        description="A new version resets the model's per-entity state; the same version keeps it.",
    )
    detector: str | None = Field(
        default=None,
        description="One of: "
        + ", ".join(known_detectors())
        + ". Leave it out for the engine's recommended model (README, Configuration).",
        json_schema_extra={"enum": list(known_detectors())},
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Detector parameters, e.g. zscore mean/std per feature, and `threshold`.",
    )
    features: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Feature names; lets telemetry send values as an object by name.",
    )
    threshold_strategy: str = Field(
        default="static",
        description="static, adaptive or budget",
        json_schema_extra={"enum": list(THRESHOLD_STRATEGIES)},
    )
    adaptive_sensitivity: float = Field(default=3.0, gt=0, le=100)
    history_window: int = Field(default=64, ge=8, le=100_000)
    warmup: int | None = Field(default=None, ge=0, le=1_000_000)
    alerts_per_day: float = Field(
        default=1.0,
        gt=0,
        le=86400,
        description="budget: target alerts per entity and day of event time (the threshold "
        "is set from the tail of the scores, never below `threshold`)",
    )
    cooldown: float = Field(
        default=0.0,
        ge=0,
        le=365 * 86400,
        description="Seconds of event time during which a (model, entity) opens no second incident.",
    )
    alert_channels: list[str] = Field(
        default_factory=list,
        description="Any of: " + ", ".join(ALERT_CHANNELS),
        json_schema_extra={"items": {"type": "string", "enum": list(ALERT_CHANNELS)}},
    )
    stream: Literal["metrics", "logs", "behavior"] = Field(
        default="metrics", description="The telemetry stream the model scores"
    )
    suppression: SuppressionIn = Field(
        default_factory=lambda: SuppressionIn(),
        description="Which flagged points alert (persistence, minimum deviation)",
    )
    resolve_after: float = Field(
        default=300.0,
        ge=0,
        le=30 * 86400,
        description="Seconds of event time below the recovery bar before an incident resolves",
    )
    recover_ratio: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description=(
            "Besides alerts, an incident keeps going on runs of at least 2 points in a row"
            " of one model scoring at least this times the threshold"
        ),
    )
    group_window: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="Alerts of other signals up to this many seconds before an incident join it",
    )
    forecast: ForecastIn = Field(
        default_factory=lambda: ForecastIn(),
        description="Forecasting per feature, and the predictive alert",
    )
    log_window: float = Field(
        default=60.0, gt=0, le=86400, description="logs models: seconds per window of features"
    )
    seasonality: SeasonalityIn | None = Field(
        default=None,
        description='Score against a seasonal profile: "auto", {"period": "auto"} or '
        '{"period": 86400, "bins": 48}; none by default',
    )
    silent_after: float = Field(
        default=SILENT_AFTER,
        ge=0,
        le=365 * 86400,
        description="Seconds of the worker's clock after the entity's last message at which its "
        "open incident resolves with resolution `silent` (0: never)",
    )
    state_ttl: float = Field(
        default=STATE_TTL,
        ge=0,
        le=10 * 365 * 86400,
        description="Seconds of the worker's clock after the entity's last message at which the "
        "model's state of it is deleted (0: kept for ever)",
    )
    expect_every: float = Field(
        default=0.0,
        ge=0,
        le=365 * 86400,
        description="Seconds of the worker's clock: an entity that has sent nothing to the model "
        "for this long gets a 'went silent' incident, resolved by its next message (0: off)",
    )
    entity_from: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Collector formats: the attributes (OTLP resource attributes, Prometheus "
        "labels, Influx tags, log-line fields) that name a point's entity, first present wins; "
        "default host.name, service.instance.id, service.name (OTLP), instance (Prometheus), "
        "host (Influx, log lines)",
    )
    counters: list[str] = Field(
        default_factory=list,
        description="Features that are cumulative counters, scored as per-second rates (OTLP "
        "cumulative monotonic sums and Prometheus *_total are counters without being listed)",
    )
    split_by: list[str] | None = Field(
        default=None,
        description="Collector formats: the labels that name a series, each scored on its own "
        "as <model_id>{label=value,...}; default every label but the entity's (and Prometheus' "
        "job); [] for one series per entity",
    )
    where: dict[str, str] = Field(
        default_factory=dict,
        description='Collector formats: only samples with these label values, e.g. {"cpu": '
        '"cpu-total"} (a sample without the label passes)',
    )
    max_series_per_entity: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Series one entity may have per model; the points of more are not scored, "
        "counted in anomaly_series_refused_total and sent to anomaly.dlq once",
    )

    @field_validator("seasonality", mode="before")
    @classmethod
    def _seasonality_auto(cls, value: Any) -> Any:
        if value == "auto":
            return {"period": "auto"}
        if value is not None and not isinstance(value, dict):
            raise ValueError(
                f'seasonality must be "auto" or an object with a period, got {value!r}'
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _recommended_model(cls, data: Any) -> Any:
        """Without ``detector``, the recommended model's fields (``params`` merged)."""
        if isinstance(data, dict):
            return with_recommended(data)
        return data

    @field_validator("model_version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, value: str | None) -> str | None:
        if value not in known_detectors():
            raise ValueError(
                f"unknown detector {value!r}; choose one of: {', '.join(known_detectors())}"
            )
        return value

    @field_validator("threshold_strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in THRESHOLD_STRATEGIES:
            raise ValueError(
                f"unknown threshold strategy {value!r}; choose one of: "
                + ", ".join(THRESHOLD_STRATEGIES)
            )
        return value

    @field_validator("alert_channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        for channel in value:
            if channel not in ALERT_CHANNELS:
                raise ValueError(
                    f"unknown alert channel {channel!r}; choose from: {', '.join(ALERT_CHANNELS)}"
                )
        return value

    @field_validator("features")
    @classmethod
    def _distinct_features(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if any(not name for name in value):
                raise ValueError("feature names must be non-empty")
            if len(set(value)) != len(value):
                raise ValueError("feature names must be distinct")
        return value

    @model_validator(mode="after")
    def _detector_accepts_params(self) -> ModelConfigIn:
        try:
            config = ModelConfig.from_dict(self.model_dump())
        except DetectorError as exc:
            raise DetectorParamsError(str(exc)) from None
        for name in ("mean", "std"):
            given = self.params.get(name)
            if self.features and isinstance(given, list) and len(given) != len(self.features):
                raise DetectorParamsError(
                    f"{name} has {len(given)} values but features names {len(self.features)}"
                )
        try:
            validate(config)
        except DetectorError as exc:
            raise DetectorParamsError(str(exc)) from None
        return self


class DetectorParamsError(ValueError):
    """A detector rejected the configuration's parameters; reported on the `params` field."""


class ConfigsIn(_In):
    configs: list[ModelConfigIn] = Field(min_length=1, max_length=1000)

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        strict=True,
        json_schema_extra={"examples": [README_CONFIG_EXAMPLE]},
    )

    @field_validator("configs")
    @classmethod
    def _distinct_models(cls, configs: list[ModelConfigIn]) -> list[ModelConfigIn]:
        seen: set[str] = set()
        for config in configs:
            if config.model_id in seen:
                raise ValueError(f"model_id {config.model_id!r} appears twice in one request")
            seen.add(config.model_id)
        return configs


class ModelConfigOut(BaseModel):
    model_id: str
    model_version: str
    detector: str
    params: dict[str, Any]
    features: list[str] | None = None
    threshold_strategy: str
    adaptive_sensitivity: float
    history_window: int
    warmup: int | None = None
    alerts_per_day: float = 1.0
    cooldown: float
    alert_channels: list[str]
    stream: str = "metrics"
    suppression: dict[str, Any] = Field(default_factory=dict)
    resolve_after: float = 300.0
    recover_ratio: float = 0.8
    group_window: float = 300.0
    forecast: dict[str, Any] = Field(default_factory=dict)
    log_window: float = 60.0
    seasonality: dict[str, Any] | None = None
    silent_after: float = SILENT_AFTER
    state_ttl: float = STATE_TTL
    expect_every: float = 0.0
    entity_from: list[str] | None = None
    counters: list[str] = Field(default_factory=list)
    split_by: list[str] | None = None
    where: dict[str, str] = Field(default_factory=dict)
    max_series_per_entity: int = 100
    updated_at: str | None = None


class ConfigsOut(BaseModel):
    configs: list[ModelConfigOut]


def _check_number(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{where} must be a number or null, got {value!r}")


class RecordIn(_In):
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


class ScoreIn(_In):
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
        (an object) becomes :class:`RecordColumns` or an error naming the wrong entry."""
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


class AlertsOut(BaseModel):
    alerts: list[dict[str, Any]]
    count: int


class FeedbackIn(_In):
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


class HealthOut(BaseModel):
    status: Literal["ok", "starting"]
    broker: str
    embedded_broker: bool
    # Which embedded broker the worker started: "kafka" (Apache Kafka) or "tansu"; null when
    # KAFKA_BOOTSTRAP_SERVERS named one.
    embedded_broker_kind: Literal["kafka", "tansu"] | None = None
    recovery_done: bool
    configs_loaded: bool
    alerts_loaded: bool
    app_id: str
    assigned_partitions: list[int]


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


class RecurrenceIn(_In):
    kind: Literal["daily", "weekly"]
    start: str = Field(description="HH:MM wall-clock time in `timezone`", examples=["22:00"])
    end: str = Field(description="HH:MM; before `start` crosses midnight", examples=["06:00"])
    days: list[str] | None = Field(default=None, description='weekly: e.g. ["sat", "sun"]')
    timezone: str = Field(default="UTC", description="An IANA zone, e.g. Europe/Paris")


class SilenceIn(_In):
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


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    detail: list[ErrorItem] | str


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
