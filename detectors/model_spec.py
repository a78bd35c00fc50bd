"""What to run for one key: the detector, its threshold and their parameters, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from detectors._checks import require_int, require_positive
from detectors.base import DetectorError
from detectors.registry import DEFAULT_THRESHOLDS, detector_class, make_detector
from detectors.seasonal_config import seasonality_params
from detectors.seasonality import SeasonalProfile
from detectors.thresholds import THRESHOLD_STRATEGIES


@dataclass(frozen=True)
class ModelSpec:
    """What to run for one key, built by the engine from a validated configuration.

    All fields are checked on construction (:class:`DetectorError` names the bad field);
    ``params`` is copied.

    Parameters
    ----------
    detector
        A name of the registry: "zscore", "ewma", "mad" or "knn".
    params
        The configuration's detector parameters; ``threshold`` (optional) is the static
        threshold or the adaptive threshold's floor, the rest go to the detector. For "mad",
        ``window`` defaults to ``history_window``.
    n_features
        Number of features of each point.
    threshold_strategy
        "static", "adaptive" or "budget".
    adaptive_sensitivity
        Robust standard deviations above the median recent score (adaptive only).
    history_window
        Scores kept by the adaptive threshold (and the default mad window), at least 8.
    warmup
        Points to learn before alerting; None means 0 for a zscore with static mean/std and
        ``min(30, history_window)`` otherwise.
    seasonality
        None, or the seasonal profile's parameters, kept in the normal form of
        :func:`detectors.seasonal_config.seasonality_params` (``{"period": "auto"}`` or
        ``{"period": seconds, "bins": n}``; ``"auto"`` is accepted).
    alerts_per_day
        Target rate of alerts per key and day of event time (budget only), positive.

    Examples
    --------
    >>> spec = ModelSpec("mad", {"threshold": 4.0}, n_features=2, history_window=32)
    >>> spec.threshold, spec.effective_warmup, spec.detector_params
    (4.0, 30, {'window': 32})
    >>> ModelSpec("zscore", {"mean": [1.0], "std": [2.0]}, 1).effective_warmup
    0
    >>> ModelSpec("ewma", {"threshold": -1}, 1)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: threshold must be positive, got -1.0
    """

    detector: str
    params: dict[str, Any]
    n_features: int
    threshold_strategy: str = "static"
    adaptive_sensitivity: float = 3.0
    history_window: int = 64
    warmup: int | None = None
    seasonality: dict[str, Any] | None = None
    alerts_per_day: float = 1.0

    def __post_init__(self) -> None:
        detector_class(self.detector)
        if not isinstance(self.params, Mapping):
            raise DetectorError(f"params must be a mapping, got {self.params!r}")
        object.__setattr__(self, "params", dict(self.params))
        require_int("n_features", self.n_features, 1)
        if self.threshold_strategy not in THRESHOLD_STRATEGIES:
            raise DetectorError(
                f"unknown threshold strategy {self.threshold_strategy!r}; "
                f"choose one of: {', '.join(THRESHOLD_STRATEGIES)}"
            )
        require_positive("adaptive_sensitivity", self.adaptive_sensitivity)
        require_int("history_window", self.history_window, 8)
        require_positive("alerts_per_day", self.alerts_per_day)
        if self.warmup is not None:
            require_int("warmup", self.warmup, 0)
        require_positive("threshold", self.params.get("threshold", 1.0))
        make_detector(self.detector, self.n_features, self.detector_params)
        if self.seasonality is not None:
            seasonality = seasonality_params(self.seasonality)
            object.__setattr__(self, "seasonality", seasonality)
            SeasonalProfile(self.n_features, **(seasonality or {}))

    @property
    def threshold(self) -> float:
        """``params["threshold"]`` if given, else the detector's default threshold."""
        return float(self.params.get("threshold", DEFAULT_THRESHOLDS[self.detector]))

    @property
    def detector_params(self) -> dict[str, Any]:
        """The detector's parameters: ``params`` without ``threshold`` (plus the mad window)."""
        params = {k: v for k, v in self.params.items() if k != "threshold"}
        if self.detector == "mad":
            params.setdefault("window", self.history_window)
        return params

    @property
    def effective_warmup(self) -> int:
        """``warmup``, or its default when None."""
        if self.warmup is not None:
            return self.warmup
        static = self.params.get("mean") is not None and self.params.get("std") is not None
        if self.detector == "zscore" and static:
            return 0
        return min(30, self.history_window)
