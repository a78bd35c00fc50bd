"""Pointwise precision / recall / F1 / accuracy."""

from __future__ import annotations

import pytest

from detectors import pointwise_metrics


def test_counts_and_ratios() -> None:
    predicted = [True, True, True, False, False, False, False, True]
    labels = [1, 1, 0, 1, 0, 0, 0, 1]
    metrics = pointwise_metrics(predicted, labels)
    assert (metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"]) == (3, 1, 1, 3)
    assert metrics["precision"] == 0.75
    assert metrics["recall"] == 0.75
    assert metrics["f1"] == pytest.approx(0.75)
    assert metrics["accuracy"] == 0.75


def test_f1_is_harmonic_mean() -> None:
    metrics = pointwise_metrics([True, False, False, False], [True, True, True, False])
    assert metrics["precision"] == 1.0
    assert metrics["recall"] == pytest.approx(1 / 3)
    assert metrics["f1"] == pytest.approx(0.5)


def test_zero_denominators_are_zero() -> None:
    none_flagged = pointwise_metrics([False, False], [0, 1])
    assert none_flagged["precision"] == 0.0 and none_flagged["recall"] == 0.0
    assert none_flagged["f1"] == 0.0 and none_flagged["accuracy"] == 0.5
    no_positive = pointwise_metrics([True, False], [0, 0])
    assert no_positive["recall"] == 0.0 and no_positive["tn"] == 1
    empty = pointwise_metrics([], [])
    assert empty["accuracy"] == 0.0 and empty["tp"] == 0


def test_length_mismatch() -> None:
    with pytest.raises(ValueError, match="predicted has 2 values but labels has 3"):
        pointwise_metrics([True, False], [1, 0, 1])


def test_bad_label() -> None:
    with pytest.raises(ValueError, match=r"labels\[1\] must be 0 or 1, got 2"):
        pointwise_metrics([True, False], [1, 2])
