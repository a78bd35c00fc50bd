"""Per-key insights beside the anomaly score: correlation between a model's features, trend and
change points, and forecasts with prediction intervals (and when they are expected to breach).

Kept in the key's state and updated with every point: correlation and trend see every point,
the forecasters learn only the points the detector did not flag (as the detector itself does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors import DetectorError
from detectors.correlation import RollingCorrelation
from detectors.forecast import ForecastPoint, Holt, steps_to_breach
from detectors.holt_winters import HoltWinters
from detectors.trend import TrendTracker

MAX_CORRELATED_FEATURES = 16
PREDICT_CONFIRM = 2  # consecutive points whose forecast breaches before a predictive alert
# Steps a forecaster must have learned before it may raise a predictive alert: a young one
# extrapolates its first wiggles (seen: a key's first big batch paged "expected to breach").
PREDICT_MIN_STEPS = 64


@dataclass(frozen=True)
class ForecastSpec:
    """The configuration's ``forecast`` object.

    ``season_length``: steps in a season for Holt-Winters (None: Holt's linear trend);
    ``predictive_horizon``: steps ahead within which a forecast crossing the alert band raises a
    predictive alert (0: off). The forecast's mean must cross (its 95 % interval is reported),
    on ``PREDICT_CONFIRM`` consecutive points, so a noisy series does not cry wolf.

    Examples
    --------
    >>> ForecastSpec.from_dict({"season_length": 24, "predictive_horizon": 12}).season_length
    24
    >>> ForecastSpec.from_dict({"season": 24})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: unknown forecast setting 'season'; choose from: alpha, beta, gamma, predictive_horizon, season_length
    """

    season_length: int | None = None
    alpha: float = 0.3
    beta: float = 0.1
    gamma: float = 0.1
    predictive_horizon: int = 0

    def __post_init__(self) -> None:
        if self.predictive_horizon < 0 or self.predictive_horizon > 10_000:
            raise DetectorError(
                f"forecast.predictive_horizon must be between 0 and 10000, got {self.predictive_horizon}"
            )
        self.forecaster()  # validates alpha, beta, gamma, season_length

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ForecastSpec:
        if not data:
            return cls()
        known = ("alpha", "beta", "gamma", "predictive_horizon", "season_length")
        for key in data:
            if key not in known:
                raise DetectorError(
                    f"unknown forecast setting {key!r}; choose from: {', '.join(known)}"
                )
        return cls(**{k: data[k] for k in known if data.get(k) is not None})

    def forecaster(self, state: Mapping[str, Any] | None = None) -> Holt | HoltWinters:
        if self.season_length:
            if state is not None:
                return HoltWinters.from_state(
                    state,
                    alpha=self.alpha,
                    beta=self.beta,
                    gamma=self.gamma,
                    season_length=self.season_length,
                )
            return HoltWinters(self.alpha, self.beta, self.gamma, self.season_length)
        if state is not None:
            return Holt.from_state(state, alpha=self.alpha, beta=self.beta)
        return Holt(self.alpha, self.beta)


@dataclass(frozen=True)
class Breach:
    """A forecast of ``feature`` expected to leave the alert band in ``steps`` steps."""

    feature: int
    steps: int
    point: ForecastPoint
    bound: float

    def describe(self, name: str) -> str:
        """Examples
        --------
        >>> Breach(0, 4, ForecastPoint(4, 118.0, 112.0, 124.0), 115.0).describe("cpu")
        'cpu expected to breach 115 in ~4 steps (forecast 118, 95% interval 112 to 124)'
        """
        return (
            f"{name} expected to breach {self.bound:.4g} in ~{self.steps} steps "
            f"(forecast {self.point.mean:.4g}, 95% interval {self.point.lower:.4g} to "
            f"{self.point.upper:.4g})"
        )


class Insights:
    """The insights of one key with ``n_features`` features, from (and to) JSON state."""

    def __init__(
        self, spec: ForecastSpec, n_features: int, state: Mapping[str, Any] | None = None
    ) -> None:
        state = state or {}
        self.spec = spec
        self.n_features = n_features
        self.corr: RollingCorrelation | None = None
        if 2 <= n_features <= MAX_CORRELATED_FEATURES:
            self.corr = (
                RollingCorrelation.from_state(state["corr"], n_features=n_features)
                if state.get("corr")
                else RollingCorrelation(n_features)
            )
        self.streak = int(state.get("streak", 0))
        trends = state.get("trend") or [None] * n_features
        forecasts = state.get("forecast") or [None] * n_features
        self.trends: list[TrendTracker] = []
        for t in trends:  # a string: the state of a feature whose times are the first one's
            if isinstance(t, str) and self.trends:
                self.trends.append(TrendTracker.from_state_like(t, self.trends[0]))
            else:
                self.trends.append(TrendTracker.from_state(t) if t else TrendTracker())
        if forecasts and isinstance(forecasts[0], Mapping):  # a string: "f" of the first's n
            first = {k: v for k, v in forecasts[0].items() if k in _LIKE}
            forecasts = [{**first, "f": f} if isinstance(f, str) else f for f in forecasts]
        self.forecasters = [spec.forecaster(f) if f else spec.forecaster() for f in forecasts]

    def update(self, ts: float, x: Sequence[float], flagged: bool) -> None:
        if self.corr is not None:
            self.corr.update(x)
        for i, value in enumerate(x):
            self.trends[i].update(ts, value)
            if not flagged:
                self.forecasters[i].learn_one(value)

    def update_many(self, ts: np.ndarray, rows: np.ndarray, flagged: np.ndarray) -> None:
        """:meth:`update` on each row in order (``ts`` and ``flagged`` one per row)."""
        if self.corr is not None:
            self.corr.update_many(rows)
        learned = rows[~flagged]
        for i in range(self.n_features):
            self.trends[i].update_many(ts, rows[:, i])
            self.forecasters[i].learn_many(learned[:, i])

    def partners(self, names: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
        """Per feature name, the model's other features that move with it, with r."""
        if self.corr is None:
            return {}
        return {
            names[i]: [(names[j], r) for j, r in self.corr.partners(i)]
            for i in range(self.n_features)
        }

    def predict(self, baseline: Sequence[tuple[float, float]], threshold: float) -> Breach | None:
        """The expected breach to alert on: :meth:`breach` confirmed on ``PREDICT_CONFIRM``
        consecutive points."""
        breach = self.breach(baseline, threshold)
        self.streak = self.streak + 1 if breach is not None else 0
        return breach if self.streak >= PREDICT_CONFIRM else None

    def breach(self, baseline: Sequence[tuple[float, float]], threshold: float) -> Breach | None:
        """The soonest step at which a forecast's mean leaves the alert band
        ``center ± threshold × spread``, within ``predictive_horizon`` steps, if any."""
        horizon = self.spec.predictive_horizon
        if not horizon:
            return None
        soonest: Breach | None = None
        for i, (center, spread) in enumerate(baseline):
            if not (math.isfinite(center) and math.isfinite(spread)):
                continue
            if self.forecasters[i].steps < PREDICT_MIN_STEPS:
                continue
            upper, lower = center + threshold * spread, center - threshold * spread
            points = self.forecasters[i].forecast(horizon)
            steps = steps_to_breach(points, upper, lower, use_interval=False) if points else None
            if steps is not None and (soonest is None or steps < soonest.steps):
                point = points[steps - 1]
                bound = upper if point.mean > upper else lower
                soonest = Breach(i, steps, point, bound)
        return soonest

    def report(
        self,
        names: Sequence[str],
        horizon: int,
        baseline: Sequence[tuple[float, float]],
        threshold: float,
        step_seconds: float | None,
        last_ts: float | None,
    ) -> dict[str, Any]:
        """Trend and a ``horizon``-step forecast per feature (for the REST API)."""
        features = []
        for i, name in enumerate(names):
            summary = self.trends[i].summary()
            points = self.forecasters[i].forecast(horizon) if horizon else []
            center, spread = baseline[i] if i < len(baseline) else (math.nan, math.nan)
            breach = None
            if points and math.isfinite(center) and math.isfinite(spread):
                breach = steps_to_breach(
                    points,
                    center + threshold * spread,
                    center - threshold * spread,
                    use_interval=False,
                )
            features.append(
                {
                    "feature": name,
                    "trend": {
                        "slope_per_second": summary.slope,
                        "direction": summary.direction,
                        "change_points": summary.change_points,
                    },
                    "forecast": [
                        {
                            "step": p.step,
                            "ts": last_ts + p.step * step_seconds
                            if last_ts is not None and step_seconds
                            else None,
                            "mean": p.mean,
                            "lower": p.lower,
                            "upper": p.upper,
                        }
                        for p in points
                    ],
                    "breach_in_steps": breach,
                }
            )
        return {"features": features}

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "trend": [
                t.state_like(self.trends[0]) or t.to_state() if i else t.to_state()
                for i, t in enumerate(self.trends)
            ],
            "forecast": _forecasts_like([f.to_state() for f in self.forecasters]),
        }
        if self.corr is not None:
            state["corr"] = self.corr.to_state()
        if self.streak:
            state["streak"] = self.streak
        return state


_LIKE = ("n", "steps")  # what a forecaster of the same points has as the first one has


def _forecasts_like(states: list[dict[str, Any]]) -> list[Any]:
    """Forecaster states, those after the first with its ``n`` and ``steps`` (the same points
    learned) as their ``f`` alone.

    Examples
    --------
    >>> _forecasts_like([{"n": 9, "steps": 0, "f": "a"}, {"n": 9, "steps": 0, "f": "b"},
    ...                  {"n": 8, "steps": 0, "f": "c"}])
    [{'n': 9, 'steps': 0, 'f': 'a'}, 'b', {'n': 8, 'steps': 0, 'f': 'c'}]
    """
    if not states:
        return states
    first = states[0]
    return [states[0]] + [
        s["f"]
        if set(s) == {*_LIKE, "f"}
        and isinstance(s["f"], str)
        and all(s[k] == first.get(k) for k in _LIKE)
        and set(first) == set(s)
        else s
        for s in states[1:]
    ]
