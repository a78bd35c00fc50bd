"""The nested sections of a detector configuration: forecast, suppression (and its persistence),
seasonality."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_serializer, model_validator

from api.schemas.strict import StrictIn
from detectors import DetectorError
from detectors.seasonal_config import check_bins, check_period, seasonality_params


class ForecastIn(StrictIn):
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


class PersistenceIn(StrictIn):
    k: int = Field(default=2, ge=1, le=64, description="Flagged points needed ...")
    n: int = Field(default=3, ge=1, le=64, description="... among the last n points")

    @model_validator(mode="after")
    def _k_at_most_n(self) -> PersistenceIn:
        if self.k > self.n:
            raise ValueError(f"k must be at most n, got k={self.k} and n={self.n}")
        return self


class SuppressionIn(StrictIn):
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


class SeasonalityIn(StrictIn):
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
