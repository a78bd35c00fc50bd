"""Detection quality as running counters: :class:`QualityCounters` keeps one model's pointwise and
event-wise counts over a stream of labelled points in a small fixed-size state, and
:func:`quality_report` turns summed counts (of many keys) into the metrics of
:mod:`detectors.evaluation`, which defines them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors._checks import require_finite, require_int, state_field
from detectors.base import DetectorError
from detectors.evaluation import eventwise_from_counts, pointwise_from_counts

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
        pointwise_from_counts(int(c["tp"]), int(c["fp"]), int(c["fn"]), int(c["tn"]))
    )
    events = eventwise_from_counts(
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
