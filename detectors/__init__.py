"""Pure per-key anomaly detectors, thresholds and the scoring step (no I/O).

Examples
--------
>>> from detectors import ModelScorer, ModelSpec
>>> scorer = ModelScorer(ModelSpec("zscore", {"mean": [100, 5], "std": [5, 1]}, 2))
>>> result = scorer.score_one([120.0, 5.0])
>>> result.score, result.is_anomaly
(4.0, True)
"""

from __future__ import annotations

# first: the compiled modules, when built, are imported under these modules' names
import detectors.kernel  # noqa: F401  # isort: split
from detectors.base import Detector, DetectorError, combined_score, floored, spread_floor
from detectors.evaluation import pointwise_metrics
from detectors.ewma import EWMA
from detectors.knn import KNNSurprise
from detectors.mad import RollingMAD
from detectors.model import ModelScorer
from detectors.model_spec import ModelSpec
from detectors.registry import (
    DEFAULT_THRESHOLDS,
    DETECTORS,
    check_params,
    detector_class,
    make_detector,
)
from detectors.results import PointResult
from detectors.thresholds import (
    THRESHOLD_STRATEGIES,
    AdaptiveThreshold,
    StaticThreshold,
    Threshold,
    make_threshold,
)
from detectors.zscore import ZScore

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DETECTORS",
    "EWMA",
    "THRESHOLD_STRATEGIES",
    "AdaptiveThreshold",
    "Detector",
    "DetectorError",
    "KNNSurprise",
    "ModelScorer",
    "ModelSpec",
    "PointResult",
    "RollingMAD",
    "StaticThreshold",
    "Threshold",
    "ZScore",
    "check_params",
    "combined_score",
    "detector_class",
    "floored",
    "make_detector",
    "make_threshold",
    "pointwise_metrics",
    "spread_floor",
]
