"""Pointwise and event-wise precision / recall / F1, delays, and the streamed counters."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import pointwise_metrics
from detectors.base import DetectorError
from detectors.evaluation import eventwise_metrics
from detectors.quality_counters import QualityCounters


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


# Event-wise metrics and streamed counters


def test_eventwise_windows_alarms_and_delays() -> None:
    #            0  1  2  3  4  5  6  7  8  9 10 11 12
    predicted = [0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1]
    labels = [0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0]
    ts = [0.0, 5.0, 10.0, 12.0, 20.0, 25.0, 30.0, 31.0, 40.0, 50.0, 55.0, 60.0, 70.0]
    m = eventwise_metrics([bool(p) for p in predicted], labels, ts)
    # windows [2-4] (found at 4), [6-7] and [9-10] (missed);
    # alarms [1] false, [4-7] true (spans two windows, detects only the first), [12] false
    assert (m["windows"], m["detected"], m["alarms"], m["false_alarms"]) == (3, 1, 3, 2)
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(1 / 3)
    assert m["delays_points"] == [2, None, None]
    assert m["delays_seconds"] == [10.0, None, None]
    assert m["mean_delay_points"] == 2.0
    assert m["mean_delay_seconds"] == 10.0


def _streamed(predicted: list[int], labels: list[int]) -> dict[str, object]:
    counters = QualityCounters()
    for i, (flag, label) in enumerate(zip(predicted, labels, strict=True)):
        counters.update(bool(flag), label, 60.0 * i)
    return counters.snapshot()


def test_one_alarm_spanning_two_windows_is_one_detection() -> None:
    #            0  1  2  3  4  5  6  7  8  9
    predicted = [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]
    labels = [0, 1, 1, 0, 0, 1, 1, 0, 0, 0]
    m = eventwise_metrics([bool(p) for p in predicted], labels)
    # one alarm [2-6] overlaps windows [1-2] and [5-6]: it detects [1-2] (delay 1), not [5-6]
    assert (m["windows"], m["detected"], m["alarms"], m["false_alarms"]) == (2, 1, 1, 0)
    assert (m["precision"], m["recall"]) == (1.0, 0.5)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["delays_points"] == [1, None]
    snap = _streamed(predicted, labels)
    assert (snap["windows"], snap["detected"], snap["alarms"]) == (2, 1, 1)
    assert snap["event_recall"] == 0.5 and snap["mean_delay_seconds"] == 60.0


def test_a_second_alarm_detects_the_window_the_first_only_crossed() -> None:
    #            0  1  2  3  4  5  6  7
    predicted = [1, 1, 1, 1, 0, 0, 1, 0]
    labels = [0, 1, 0, 1, 1, 1, 1, 0]
    m = eventwise_metrics([bool(p) for p in predicted], labels)
    # alarm [0-3] detects window [1] and crosses [3-6]; alarm [6] then detects [3-6] at 6
    assert (m["windows"], m["detected"], m["alarms"], m["false_alarms"]) == (2, 2, 2, 0)
    assert m["delays_points"] == [0, 3]
    assert _streamed(predicted, labels)["mean_delay_points"] == 1.5


def test_two_alarms_in_one_window_are_two_true_alarms_and_one_detection() -> None:
    #            0  1  2  3  4  5  6  7
    predicted = [0, 0, 1, 0, 1, 1, 0, 0]
    labels = [0, 1, 1, 1, 1, 1, 1, 0]
    m = eventwise_metrics([bool(p) for p in predicted], labels)
    assert (m["windows"], m["detected"], m["alarms"], m["false_alarms"]) == (1, 1, 2, 0)
    assert (m["precision"], m["recall"], m["f1"]) == (1.0, 1.0, 1.0)
    assert m["delays_points"] == [1]  # from the window's start to the first alarm
    point = pointwise_metrics([bool(p) for p in predicted], labels)
    assert (point["tp"], point["fn"], point["accuracy"]) == (3, 3, 5 / 8)
    snap = _streamed(predicted, labels)
    assert (snap["windows"], snap["detected"], snap["alarms"], snap["false_alarms"]) == (1, 1, 2, 0)


def test_a_long_false_alarm_is_one_false_alarm() -> None:
    predicted = [False] * 5 + [True] * 40 + [False] * 5 + [True] + [False] * 9
    labels = [0] * 50 + [1] + [0] * 9
    m = eventwise_metrics(predicted, labels)
    assert (m["windows"], m["detected"], m["alarms"], m["false_alarms"]) == (1, 1, 2, 1)
    assert (m["precision"], m["recall"]) == (0.5, 1.0)
    point = pointwise_metrics(predicted, labels)  # point-wise, the same alarm is 40 false points
    assert (point["tp"], point["fp"], point["tn"]) == (1, 40, 19)
    assert point["precision"] == pytest.approx(1 / 41)
    assert point["accuracy"] == pytest.approx(20 / 60)
    assert _streamed([int(p) for p in predicted], labels)["false_alarms"] == 1


def test_counters_read_a_state_from_before_alarm_detected() -> None:
    counters = QualityCounters()
    counters.update(True, 1, 0.0)
    state = counters.to_state()
    del state["alarm_detected"]
    old = QualityCounters.from_state(state)  # the open alarm is taken to have detected
    old.update(False, 0, 60.0)
    assert (old.snapshot()["windows"], old.snapshot()["detected"]) == (1, 1)
    with pytest.raises(DetectorError, match="alarm_detected must be true or false, got 1"):
        QualityCounters.from_state({**counters.to_state(), "alarm_detected": 1})


def test_eventwise_differs_from_pointwise() -> None:
    # One long window flagged at one point: poor pointwise recall, full event recall.
    predicted = [False] * 3 + [True] + [False] * 6
    labels = [0, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert pointwise_metrics(predicted, labels)["recall"] == 0.125
    event = eventwise_metrics(predicted, labels)
    assert event["recall"] == 1.0 and event["precision"] == 1.0
    assert event["delays_points"] == [2] and event["mean_delay_seconds"] is None
    assert event["delays_seconds"] is None


def test_eventwise_zero_denominators() -> None:
    nothing = eventwise_metrics([False, False], [0, 0])
    assert (nothing["precision"], nothing["recall"], nothing["f1"]) == (0.0, 0.0, 0.0)
    assert nothing["mean_delay_points"] is None and nothing["windows"] == 0
    missed = eventwise_metrics([True, False], [0, 1], ts=[0.0, 1.0])
    assert missed["false_alarms"] == 1 and missed["recall"] == 0.0
    assert missed["mean_delay_seconds"] is None
    assert eventwise_metrics([], [])["alarms"] == 0


def test_eventwise_validation() -> None:
    with pytest.raises(ValueError, match="predicted has 1 values but labels has 2"):
        eventwise_metrics([True], [1, 0])
    with pytest.raises(DetectorError, match="ts has 1 values but labels has 2"):
        eventwise_metrics([True, False], [1, 0], ts=[0.0])
    with pytest.raises(DetectorError, match=r"ts\[1\] must be finite, got nan"):
        eventwise_metrics([True, False], [1, 0], ts=[0.0, math.nan])
    with pytest.raises(DetectorError, match=r"labels\[0\] must be 0 or 1, got -1"):
        eventwise_metrics([True], [-1])


def test_counters_count_points_and_events() -> None:
    counters = QualityCounters()
    stream = [(False, 0), (True, 1), (True, 1), (False, 1), (False, 0), (True, 0), (False, 0)]
    for i, (predicted, label) in enumerate(stream):
        counters.update(predicted, label, 100.0 + 10 * i)
    snap = counters.snapshot()
    assert (snap["tp"], snap["fp"], snap["fn"], snap["tn"]) == (2, 1, 1, 3)
    assert (snap["windows"], snap["detected"], snap["alarms"], snap["false_alarms"]) == (1, 1, 2, 1)
    assert snap["event_precision"] == 0.5 and snap["event_recall"] == 1.0
    assert snap["mean_delay_points"] == 0.0 and snap["points"] == 7


def test_counters_count_an_open_window_and_alarm_without_closing_them() -> None:
    counters = QualityCounters()
    counters.update(False, 1, 0.0)
    assert counters.snapshot()["windows"] == 1
    assert counters.snapshot()["detected"] == 0
    counters.update(True, 1, 4.0)  # the same window, now detected after 4 s
    snap = counters.snapshot()
    assert (snap["windows"], snap["detected"], snap["alarms"]) == (1, 1, 1)
    assert snap["mean_delay_seconds"] == 4.0


def test_counters_validation() -> None:
    counters = QualityCounters()
    with pytest.raises(DetectorError, match="label must be 0 or 1, got 2"):
        counters.update(True, 2, 0.0)
    with pytest.raises(DetectorError, match="predicted must be True or False, got 'yes'"):
        counters.update("yes", 1, 0.0)  # type: ignore[arg-type]
    with pytest.raises(DetectorError, match="ts must be finite, got inf"):
        counters.update(True, 1, math.inf)
    with pytest.raises(DetectorError, match="quality state tp must be an integer >= 0, got -1"):
        QualityCounters.from_state({**QualityCounters().to_state(), "tp": -1})


def test_counters_state_is_small_and_fixed() -> None:
    counters = QualityCounters()
    sizes = set()
    for i in range(10_000):
        counters.update(i % 97 < 3, i % 89 < 5, 1_795_766_400.0 + i)
        if i % 1000 == 999:
            sizes.add(len(json.dumps(counters.to_state())))
    assert max(sizes) < 400


labelled = st.lists(st.tuples(st.booleans(), st.integers(0, 1), st.floats(0, 100)), max_size=60)


def _batch(points: list[tuple[bool, int, float]]) -> dict[str, object]:
    predicted = [p for p, _, _ in points]
    labels = [label for _, label, _ in points]
    ts = [t for _, _, t in points]
    events = eventwise_metrics(predicted, labels, ts)
    expected: dict[str, object] = dict(pointwise_metrics(predicted, labels))
    for name in ("precision", "recall", "f1"):
        expected[f"event_{name}"] = events.pop(name)
    del events["delays_points"], events["delays_seconds"]
    expected.update(events)
    expected["points"] = len(points)
    return expected


@settings(max_examples=150, deadline=None)
@given(steps=labelled, cut=st.integers(0, 60))
def test_streaming_equals_batch_also_across_a_state_round_trip(
    steps: list[tuple[bool, int, float]], cut: int
) -> None:
    points, clock = [], 1_795_766_400.0
    for predicted, label, gap in steps:
        clock += gap
        points.append((predicted, label, clock))
    counters = QualityCounters()
    for i, point in enumerate(points):
        if i == cut:
            counters = QualityCounters.from_state(json.loads(json.dumps(counters.to_state())))
        counters.update(*point)
        if i % 7 == 0:
            assert counters.snapshot() == _batch(points[: i + 1])
    assert counters.snapshot() == _batch(points)
