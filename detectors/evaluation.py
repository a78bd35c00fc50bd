"""Detection quality against labelled points: pointwise, event-wise, and as running counters.

Pointwise metrics count every point once. Event-wise metrics count what an operator sees: each
maximal run of labelled points is one anomaly *window* and each maximal run of flagged points
is one *alarm*, and each alarm counts once:

- an alarm is *true* if it overlaps a window, else it is one *false alarm*, however long;
- an alarm *detects* at most one window: the earliest one it overlaps that no earlier alarm
  detected, so one alarm across two windows detects the first, and the second is missed
  unless another alarm reaches it; two alarms in one window are two true alarms and one
  detection;
- a window's delay runs from its first point to the first point of the alarm that detected it.

:class:`detectors.quality_counters.QualityCounters` keeps both for a stream of labelled points,
with a small fixed-size state.

A ratio whose denominator is 0 is 0.0 throughout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detectors._checks import require_finite
from detectors.base import DetectorError


def _ratio(numerator: int | float, denominator: int | float) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def _check(predicted: Sequence[bool], labels: Sequence[int | bool]) -> None:
    if len(predicted) != len(labels):
        raise DetectorError(
            f"predicted has {len(predicted)} values but labels has {len(labels)}; "
            "they must have the same length."
        )
    for i, label in enumerate(labels):
        if label not in (0, 1):
            raise DetectorError(f"labels[{i}] must be 0 or 1, got {label!r}.")


def pointwise_from_counts(tp: int, fp: int, fn: int, tn: int) -> dict[str, float | int]:
    """Pointwise metrics from the confusion counts (also of summed counters)."""
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def pointwise_metrics(
    predicted: Sequence[bool], labels: Sequence[int | bool]
) -> dict[str, float | int]:
    """Precision, recall, F1 and accuracy of per-point predictions against 0/1 labels.

    Each point counts once (no event-level or delay-tolerant matching). A ratio whose
    denominator is 0 is defined as 0.0: precision with no predicted anomaly, recall with no
    labelled anomaly, F1 when precision + recall is 0, accuracy of empty input.

    Parameters
    ----------
    predicted
        Whether each point was flagged.
    labels
        1 (or True) for an anomalous point, 0 (or False) for a normal one.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``accuracy`` (floats) and ``tp``, ``fp``, ``fn``,
        ``tn`` (ints).

    Raises
    ------
    DetectorError
        (a ValueError) If the sequences differ in length or a label is not 0/1.

    Examples
    --------
    >>> metrics = pointwise_metrics([True, True, False, False], [1, 0, 1, 0])
    >>> metrics["precision"], metrics["recall"], metrics["f1"], metrics["accuracy"]
    (0.5, 0.5, 0.5, 0.5)
    >>> metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"]
    (1, 1, 1, 1)
    >>> pointwise_metrics([False, False], [0, 0])["precision"]
    0.0
    >>> pointwise_metrics([True], [1, 0])
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: predicted has 1 values but labels has 2; they must have the same length.
    """
    _check(predicted, labels)
    tp = fp = fn = tn = 0
    for flagged, label in zip(predicted, labels, strict=True):
        if flagged:
            if label:
                tp += 1
            else:
                fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
    return pointwise_from_counts(tp, fp, fn, tn)


def _runs(flags: Sequence[Any]) -> list[tuple[int, int]]:
    """Maximal runs of truthy values as ``(first, last)`` indices.

    Examples
    --------
    >>> _runs([0, 1, 1, 0, 1])
    [(1, 2), (4, 4)]
    """
    runs = []
    start: int | None = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(flags) - 1))
    return runs


def _match(
    windows: Sequence[tuple[int, int]], alarms: Sequence[tuple[int, int]]
) -> list[int | None]:
    """Per window, the index where the alarm that detected it first touches it (None: missed).

    Alarms in order each detect the earliest window they overlap that no earlier alarm
    detected, at most one each. Both lists are ``(first, last)`` runs in order.

    Examples
    --------
    >>> _match([(1, 2), (4, 5)], [(0, 4)])
    [1, None]
    >>> _match([(1, 2), (4, 5)], [(1, 1), (2, 4)])
    [1, 4]
    """
    found: list[int | None] = [None] * len(windows)
    w = 0
    for a_start, a_end in alarms:
        while w < len(windows) and windows[w][1] < a_start:
            w += 1
        j = w
        while j < len(windows) and windows[j][0] <= a_end:
            if found[j] is None:
                found[j] = max(a_start, windows[j][0])
                break
            j += 1
    return found


def eventwise_from_counts(
    windows: int,
    detected: int,
    alarms: int,
    false_alarms: int,
    delay_points: int,
    delay_seconds: float | None,
) -> dict[str, Any]:
    """Event-wise metrics from the window, alarm and delay counts (also of summed counters)."""
    precision = _ratio(alarms - false_alarms, alarms)
    recall = _ratio(detected, windows)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "windows": windows,
        "detected": detected,
        "alarms": alarms,
        "false_alarms": false_alarms,
        "mean_delay_points": delay_points / detected if detected else None,
        "mean_delay_seconds": (
            delay_seconds / detected if detected and delay_seconds is not None else None
        ),
    }


def eventwise_metrics(
    predicted: Sequence[bool],
    labels: Sequence[int | bool],
    ts: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Event-wise precision, recall, F1 and detection delay of flagged points against labels.

    A *window* is a maximal run of points labelled 1 and an *alarm* a maximal run of flagged
    points. Each alarm counts once: it is true if it overlaps a window, else one false alarm
    whatever its length, and it *detects* at most one window, the earliest it overlaps that no
    earlier alarm detected. A window's delay is the number of points (and, with ``ts``, the
    seconds) from its first point to the first point of the alarm that detected it inside it.

    - ``precision`` = true alarms / alarms, ``recall`` = detected windows / windows, ``f1``
      their harmonic mean (0/0 is 0.0);
    - ``windows``, ``detected``, ``alarms``, ``false_alarms`` (counts);
    - ``mean_delay_points`` and ``mean_delay_seconds``: means over the detected windows,
      None if none is detected (and the seconds None without ``ts``);
    - ``delays_points`` and ``delays_seconds``: per window, in order, None if missed
      (``delays_seconds`` is None without ``ts``).

    Parameters
    ----------
    predicted
        Whether each point was flagged.
    labels
        1 (or True) for an anomalous point, 0 (or False) for a normal one.
    ts
        Optional event time of each point in seconds, in order.

    Examples
    --------
    >>> predicted = [False, True, False, False, True, True, False, False, False, True]
    >>> labels =    [0,     0,    1,     1,     1,    0,    0,    1,     1,     0]
    >>> m = eventwise_metrics(predicted, labels, ts=[10.0 * i for i in range(10)])
    >>> m["windows"], m["detected"], m["alarms"], m["false_alarms"]
    (2, 1, 3, 2)
    >>> round(m["precision"], 4), m["recall"], m["f1"]
    (0.3333, 0.5, 0.4)
    >>> m["delays_points"], m["delays_seconds"], m["mean_delay_seconds"]
    ([2, None], [20.0, None], 20.0)
    >>> eventwise_metrics([False], [1])["mean_delay_points"] is None
    True

    One alarm across two windows detects only the first; a long false alarm counts once:

    >>> m = eventwise_metrics([True, True, True, False, True, True, True], [1, 0, 1, 0, 0, 0, 0])
    >>> m["windows"], m["detected"], m["alarms"], m["false_alarms"], m["delays_points"]
    (2, 1, 2, 1, [0, None])
    """
    _check(predicted, labels)
    times: list[float] | None = None
    if ts is not None:
        if len(ts) != len(labels):
            raise DetectorError(
                f"ts has {len(ts)} values but labels has {len(labels)}; "
                "they must have the same length."
            )
        times = [require_finite(f"ts[{i}]", t) for i, t in enumerate(ts)]
    windows = _runs(labels)
    alarms = _runs(predicted)
    first_alerts = _match(windows, alarms)
    delays_points: list[int | None] = []
    delays_seconds: list[float | None] = []
    detected = 0
    total_points = 0
    total_seconds = 0.0
    for (start, _), first in zip(windows, first_alerts, strict=True):
        if first is None:
            delays_points.append(None)
            delays_seconds.append(None)
            continue
        detected += 1
        total_points += first - start
        delays_points.append(first - start)
        if times is not None:
            seconds = times[first] - times[start]
            total_seconds += seconds
            delays_seconds.append(seconds)
    false_alarms = sum(1 for start, end in alarms if not any(labels[start : end + 1]))
    result = eventwise_from_counts(
        len(windows),
        detected,
        len(alarms),
        false_alarms,
        total_points,
        total_seconds if times is not None else None,
    )
    result["delays_points"] = delays_points
    result["delays_seconds"] = delays_seconds if times is not None else None
    return result
