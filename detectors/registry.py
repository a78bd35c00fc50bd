"""Detectors by configuration name, their default thresholds, and the factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.adaptive import Adaptive
from detectors.base import Detector, DetectorError
from detectors.ewma import EWMA
from detectors.knn import KNNSurprise
from detectors.mad import RollingMAD
from detectors.zscore import ZScore

DETECTORS: dict[str, type[Detector]] = {
    "adaptive": Adaptive,
    "zscore": ZScore,
    "ewma": EWMA,
    "mad": RollingMAD,
    "knn": KNNSurprise,
}

DEFAULT_THRESHOLDS: dict[str, float] = {
    "adaptive": 2.0,
    "zscore": 3.0,
    "ewma": 3.0,
    "mad": 3.5,
    "knn": 9.0,
}


def detector_class(name: str) -> type[Detector]:
    """The detector class registered as ``name``, or a DetectorError listing the choices.

    Examples
    --------
    >>> detector_class("ewma").__name__
    'EWMA'
    >>> detector_class("x")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: unknown detector 'x'; choose one of: adaptive, ewma, knn, mad, zscore
    """
    try:
        return DETECTORS[name]
    except (KeyError, TypeError):
        choices = ", ".join(sorted(DETECTORS))
        raise DetectorError(f"unknown detector {name!r}; choose one of: {choices}") from None


def check_params(name: str, params: Mapping[str, Any]) -> None:
    """Raise a DetectorError if ``params`` has a key the detector does not take.

    Examples
    --------
    >>> check_params("ewma", {"alpha": 0.2})
    >>> check_params("ewma", {"alpa": 0.2})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: unknown parameter 'alpa' for detector 'ewma'; choose from: alpha, var_alpha
    """
    cls = detector_class(name)
    for key in params:
        if key not in cls.param_names:
            raise DetectorError(
                f"unknown parameter {key!r} for detector {name!r}; "
                f"choose from: {', '.join(cls.param_names)}"
            )


def make_detector(
    name: str,
    n_features: int,
    params: Mapping[str, Any],
    state: Mapping[str, Any] | None = None,
) -> Detector:
    """Build detector ``name`` with ``params`` (without ``threshold``), fresh or from ``state``.

    Examples
    --------
    >>> det = make_detector("zscore", 2, {"mean": [100, 5], "std": [5, 1]})
    >>> det.score_one([120.0, 5.0])
    4.0
    >>> make_detector("mad", 1, {"window": 2})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: window must be an integer >= 3, got 2
    """
    cls = detector_class(name)
    check_params(name, params)
    if state is None:
        return cls(n_features, **params)
    return cls.from_state(n_features, params, state)
