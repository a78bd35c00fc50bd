"""Detector configurations: ``POST /anomaly/config``'s body and what ``GET`` answers.

Detector parameters are checked by the detectors themselves, so the API and the stream agree on
what is valid; a refusal of them is a :class:`DetectorParamsError` on the ``params`` field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.schemas.config_sections import ForecastIn, SeasonalityIn, SuppressionIn
from api.schemas.strict import StrictIn
from detectors import THRESHOLD_STRATEGIES, DetectorError
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


class ModelConfigIn(StrictIn):
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


class ConfigsIn(StrictIn):
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
