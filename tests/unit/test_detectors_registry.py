"""Detector registry and factory."""

from __future__ import annotations

import pytest

from detectors import (
    DEFAULT_THRESHOLDS,
    DETECTORS,
    EWMA,
    DetectorError,
    KNNSurprise,
    RollingMAD,
    ZScore,
    make_detector,
)
from detectors.adaptive import Adaptive


def test_registry_contents() -> None:
    expected = {
        "adaptive": Adaptive,
        "zscore": ZScore,
        "ewma": EWMA,
        "mad": RollingMAD,
        "knn": KNNSurprise,
    }
    assert expected == DETECTORS
    assert DEFAULT_THRESHOLDS == {
        "adaptive": 2.0,
        "zscore": 3.0,
        "ewma": 3.0,
        "mad": 3.5,
        "knn": 9.0,
    }
    assert all(cls.name == name for name, cls in DETECTORS.items())


def test_make_detector_passes_params() -> None:
    det = make_detector("ewma", 3, {"alpha": 0.25})
    assert isinstance(det, EWMA) and det.alpha == 0.25 and det.n_features == 3
    mad = make_detector("mad", 1, {"window": 5})
    assert isinstance(mad, RollingMAD) and mad.window == 5


def test_make_detector_from_state() -> None:
    det = make_detector("mad", 1, {"window": 3}, {"n": 3, "window": [[1.0, 2.0, 4.0]]})
    assert det.baseline() == [(2.0, 1.4826)]
    assert det.n_learned == 3


def test_unknown_detector() -> None:
    with pytest.raises(DetectorError) as info:
        make_detector("x", 1, {})
    assert (
        str(info.value) == "unknown detector 'x'; choose one of: adaptive, ewma, knn, mad, zscore"
    )


def test_unknown_parameter() -> None:
    with pytest.raises(DetectorError) as info:
        make_detector("zscore", 1, {"mean": [0.0], "std": [1.0], "sd": [1.0]})
    assert str(info.value) == "unknown parameter 'sd' for detector 'zscore'; choose from: mean, std"


def test_threshold_is_not_a_detector_parameter() -> None:
    with pytest.raises(DetectorError, match="unknown parameter 'threshold'"):
        make_detector("ewma", 1, {"threshold": 3.0})
