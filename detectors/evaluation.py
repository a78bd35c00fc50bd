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

:class:`QualityCounters` keeps both for a stream of labelled points, with a small fixed-size
state.

A ratio whose denominator is 0 is 0.0 throughout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from detectors._checks import require_finite, require_int, state_field
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


def _pointwise(tp: int, fp: int, fn: int, tn: int) -> dict[str, float | int]:
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
    return _pointwise(tp, fp, fn, tn)


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


def _events(
    windows: int,
    detected: int,
    alarms: int,
    false_alarms: int,
    delay_points: int,
    delay_seconds: float | None,
) -> dict[str, Any]:
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
    result = _events(
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


_COUNTERS = ("tp", "fp", "fn", "tn", "windows", "detected", "alarms", "false_alarms")
QUALITY_COUNTS = (*_COUNTERS, "delay_points", "delay_seconds")


def quality_report(counts: Mapping[str, float]) -> dict[str, Any]:
    """Pointwise and event-wise metrics from summed counters (the names of ``QUALITY_COUNTS``;
    a missing one counts 0), e.g. the closed counts of many keys' :class:`QualityCounters`.

    Examples
    --------
    >>> report = quality_report({"tp": 3, "fp": 1, "fn": 1, "tn": 5, "windows": 2,
    ...                          "detected": 2, "alarms": 3, "false_alarms": 1,
    ...                          "delay_points": 2, "delay_seconds": 20.0})
    >>> report["precision"], report["event_recall"], report["mean_delay_seconds"]
    (0.75, 1.0, 10.0)
    """
    c = {name: counts.get(name, 0) for name in QUALITY_COUNTS}
    result: dict[str, Any] = dict(
        _pointwise(int(c["tp"]), int(c["fp"]), int(c["fn"]), int(c["tn"]))
    )
    events = _events(
        int(c["windows"]),
        int(c["detected"]),
        int(c["alarms"]),
        int(c["false_alarms"]),
        int(c["delay_points"]),
        float(c["delay_seconds"]),
    )
    for name in ("precision", "recall", "f1"):
        result[f"event_{name}"] = events.pop(name)
    result.update(events)
    result["points"] = int(c["tp"] + c["fp"] + c["fn"] + c["tn"])
    return result


class QualityCounters:
    """Running pointwise and event-wise quality of one model's flags against streamed labels.

    Feed each labelled point in order; :meth:`snapshot` then equals
    :func:`pointwise_metrics` and :func:`eventwise_metrics` (with ``ts``) on all the points fed
    so far, the open window and alarm (if any) counted as if the stream ended there. The state
    has a fixed size (about 300 bytes of JSON) however many points are fed.

    Examples
    --------
    >>> counters = QualityCounters()
    >>> points = [(False, 0, 0.0), (True, 0, 10.0), (False, 1, 20.0), (True, 1, 30.0),
    ...           (True, 0, 40.0), (False, 0, 50.0)]
    >>> for predicted, label, ts in points:
    ...     counters.update(predicted, label, ts)
    >>> snap = counters.snapshot()
    >>> snap["precision"], snap["recall"], snap["accuracy"]
    (0.3333333333333333, 0.5, 0.5)
    >>> snap["event_precision"], snap["event_recall"], snap["mean_delay_seconds"]
    (0.5, 1.0, 10.0)
    >>> snap["windows"], snap["false_alarms"], snap["points"]
    (1, 1, 6)
    """

    def __init__(self) -> None:
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._delay_points = 0
        self._delay_seconds = 0.0
        self._window: dict[str, Any] | None = None  # open label window
        self._alarm: bool | None = None  # open alarm: whether it overlaps a window
        self._alarm_detected = False  # whether the open alarm has detected a window

    def update(self, predicted: bool, label: int | bool, ts: float) -> None:
        """Count one point: whether it was flagged, its 0/1 label and its event time."""
        if predicted not in (0, 1):
            raise DetectorError(f"predicted must be True or False, got {predicted!r}")
        if label not in (0, 1):
            raise DetectorError(f"label must be 0 or 1, got {label!r}")
        when = require_finite("ts", ts)
        counts = self._counts
        key = ("tp" if label else "fp") if predicted else ("fn" if label else "tn")
        counts[key] += 1
        if predicted:
            if self._alarm is None:
                self._alarm_detected = False
            self._alarm = bool(self._alarm) or bool(label)
        elif self._alarm is not None:
            self._close_alarm(self._alarm)
            self._alarm = None
        if label:
            if self._window is None:
                self._window = {"start": when, "points": 0, "delay": None}
            window = self._window
            if predicted and window["delay"] is None and not self._alarm_detected:
                window["delay"] = [window["points"], when - window["start"]]
                self._alarm_detected = True  # an alarm detects one window at most
            window["points"] += 1
        elif self._window is not None:
            self._close_window(self._window)
            self._window = None

    def _close_window(self, window: Mapping[str, Any]) -> None:
        self._counts["windows"] += 1
        if window["delay"] is not None:
            self._counts["detected"] += 1
            self._delay_points += window["delay"][0]
            self._delay_seconds += window["delay"][1]

    def _close_alarm(self, overlaps: bool) -> None:
        self._counts["alarms"] += 1
        if not overlaps:
            self._counts["false_alarms"] += 1

    def snapshot(self) -> dict[str, Any]:
        """Pointwise metrics, event-wise metrics (``event_precision``, ``event_recall``,
        ``event_f1``, ``windows``, ``detected``, ``alarms``, ``false_alarms``,
        ``mean_delay_points``, ``mean_delay_seconds``) and ``points``, the points counted."""
        copy = QualityCounters.from_state(self.to_state())
        if copy._window is not None:
            copy._close_window(copy._window)
        if copy._alarm is not None:
            copy._close_alarm(copy._alarm)
        return quality_report(copy.closed_counts())

    def closed_counts(self) -> dict[str, float]:
        """The counters of closed windows and alarms (the open ones are not counted yet), which
        only grow, so several keys' counts add up to a model's (see :func:`quality_report`)."""
        return {
            **self._counts,
            "delay_points": self._delay_points,
            "delay_seconds": self._delay_seconds,
        }

    def to_state(self) -> dict[str, Any]:
        """Counters, delay sums, the open window (start, points, delay), the open alarm
        (whether it overlaps a window, null if none) and whether it detected one.

        Examples
        --------
        >>> counters = QualityCounters()
        >>> counters.update(False, 1, 5.0)
        >>> counters.update(True, 1, 7.5)
        >>> counters.to_state()
        {'tp': 1, 'fp': 0, 'fn': 1, 'tn': 0, 'windows': 0, 'detected': 0, 'alarms': 0, 'false_alarms': 0, 'delay_points': 0, 'delay_seconds': 0.0, 'window': {'start': 5.0, 'points': 2, 'delay': [1, 2.5]}, 'alarm': True, 'alarm_detected': True}
        """
        state: dict[str, Any] = dict(self._counts)
        state["delay_points"] = self._delay_points
        state["delay_seconds"] = self._delay_seconds
        window = self._window
        state["window"] = None
        if window is not None:
            delay = None if window["delay"] is None else list(window["delay"])
            state["window"] = {"start": window["start"], "points": window["points"], "delay": delay}
        state["alarm"] = self._alarm
        state["alarm_detected"] = self._alarm_detected
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> QualityCounters:
        """Rebuild from a :meth:`to_state` dict.

        Examples
        --------
        >>> QualityCounters.from_state({"tp": 1})
        Traceback (most recent call last):
        ...
        detectors.base.DetectorError: quality state has no field 'fp'
        """
        owner = "quality"
        counters = cls()
        for name in _COUNTERS:
            value = state_field(state, name, owner)
            counters._counts[name] = require_int(f"{owner} state {name}", value, 0)
        counters._delay_points = require_int(
            f"{owner} state delay_points", state_field(state, "delay_points", owner), 0
        )
        counters._delay_seconds = require_finite(
            f"{owner} state delay_seconds", state_field(state, "delay_seconds", owner)
        )
        window = state_field(state, "window", owner)
        if window is not None:
            start = require_finite(
                f"{owner} state window start", state_field(window, "start", owner)
            )
            points = require_int(
                f"{owner} state window points", state_field(window, "points", owner), 1
            )
            delay = state_field(window, "delay", owner)
            if delay is not None:
                if not isinstance(delay, list) or len(delay) != 2:
                    raise DetectorError(
                        f"{owner} state window delay must be [points, seconds], got {delay!r}"
                    )
                delay = [
                    require_int(f"{owner} state window delay[0]", delay[0], 0),
                    require_finite(f"{owner} state window delay[1]", delay[1]),
                ]
            counters._window = {"start": start, "points": points, "delay": delay}
        alarm = state_field(state, "alarm", owner)
        if alarm is not None and not isinstance(alarm, bool):
            raise DetectorError(f"{owner} state alarm must be true, false or null, got {alarm!r}")
        counters._alarm = alarm
        # A state from before ``alarm_detected``: an open alarm that overlaps a window is taken
        # to have detected it.
        detected = state.get("alarm_detected", bool(alarm))
        if not isinstance(detected, bool):
            raise DetectorError(
                f"{owner} state alarm_detected must be true or false, got {detected!r}"
            )
        counters._alarm_detected = detected
        return counters
