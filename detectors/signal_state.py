"""The signal correlator's stored state in its other forms: a signal's bucket counts as runs,
and the older forms (every signal with its own ``last``, ``age`` and ``counts``; buckets listed)
read back (see :meth:`detectors.signal_correlation.SignalCorrelator.to_state`)."""

from __future__ import annotations

import base64
import binascii
from array import array
from collections.abc import Mapping
from typing import Any

from detectors.base import DetectorError


def pack_means(means: list[float | None]) -> list[float | None] | str:
    """Bucket means rounded to six significant digits (as the correlator keeps them) as base64
    of float32, which holds such a number closely enough to give it back
    (:func:`unpack_means`); with a missing one, or one float32 cannot hold, as they are.

    Examples
    --------
    >>> pack_means([99.7835, 100.622, -0.0, 1.5e-20])
    'J5HHQnc+yUIAAACAxquNHg=='
    >>> unpack_means(pack_means([99.7835, 100.622, -0.0, 1.5e-20]))
    [99.7835, 100.622, -0.0, 1.5e-20]
    >>> pack_means([1.0, None]), pack_means([1e40])
    ([1.0, None], [1e+40])
    """
    known = [mean for mean in means if mean is not None]
    if len(known) < len(means) or not all(v == 0.0 or 1e-37 < abs(v) < 1e37 for v in known):
        return means
    return binascii.b2a_base64(array("f", known).tobytes(), newline=False).decode("ascii")


def unpack_means(text: str) -> list[float]:
    """The means :func:`pack_means` packed.

    >>> unpack_means("AAC")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: signal correlator means must be packed float32, got 'AAC'
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b"?"
    if len(raw) % 4:
        raise DetectorError(f"signal correlator means must be packed float32, got {text!r}")
    return [float(f"{mean:.6g}") for mean in array("f", raw)]


def _runs(counts: list[int]) -> list[int]:
    """``counts`` as ``[count, times, ...]``.

    Examples
    --------
    >>> _runs([6, 6, 6, 4]), _runs([5]), _runs([]), _runs([1, 2, 2, 0])
    ([6, 3, 4, 1], [5, 1], [], [1, 1, 2, 2, 0, 1])
    """
    n = len(counts)
    if n and counts[: n - 1] == [counts[0]] * (n - 1):  # the usual: steady, the newest filling
        return [counts[0], n] if counts[-1] == counts[0] else [counts[0], n - 1, counts[-1], 1]
    runs: list[int] = []
    for count in counts:
        if runs and runs[-2] == count:
            runs[-1] += 1
        else:
            runs += (count, 1)
    return runs


def expanded(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """A :meth:`SignalCorrelator.to_state` dict with ``last``, ``age``, ``counts`` and a list of
    ``means`` on every signal (the form written before 2026-11-27 20:00, which it leaves as it
    is).

    Examples
    --------
    >>> expanded({"signals": [{"name": "a", "means": [1.0], "runs": [1, 1]}]})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: signal correlator state has a bad signal {'name': 'a', 'means': [1.0], 'runs': [1, 1]}
    """
    signals = state.get("signals")
    if not isinstance(signals, list):
        return state
    full, shared = [], None
    for item in signals:
        if isinstance(item, Mapping) and "means" in item:
            if "last" in item:
                shared = {"last": item["last"], "age": item.get("age")}
            runs = item.get("runs")
            if shared is None or not (runs is None or _valid_runs(runs)):
                raise DetectorError(f"signal correlator state has a bad signal {item!r}")
            item = {"name": item.get("name"), **shared, **item}
            if isinstance(item["means"], str):
                item["means"] = unpack_means(item["means"])
            if runs is not None:
                del item["runs"]
                item["counts"] = [
                    runs[k] for k in range(0, len(runs), 2) for _ in range(runs[k + 1])
                ]
        full.append(item)
    return {**state, "signals": full}


def _valid_runs(runs: object) -> bool:
    return (
        isinstance(runs, list)
        and len(runs) % 2 == 0
        and all(type(n) is int and n >= 0 for n in runs)
        and all(runs[k] > 0 for k in range(1, len(runs), 2))
    )


def _listed_buckets(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """A :class:`SignalCorrelator` state with each signal's buckets as ``[age, mean, count]``
    (the form of earlier versions), leaving out those without values."""
    state = expanded(state)
    signals = state.get("signals")
    if not isinstance(signals, list):
        return state
    listed = []
    for item in signals:
        if isinstance(item, Mapping) and "means" in item:
            means, counts, age = item["means"], item.get("counts"), item.get("age")
            if not (
                isinstance(means, list)
                and isinstance(counts, list)
                and len(means) == len(counts)
                and isinstance(age, int)
            ):
                raise DetectorError(f"signal correlator state has a bad signal {item!r}")
            buckets = [
                [age - i, mean, count]
                for i, (mean, count) in enumerate(zip(means, counts, strict=True))
                if count != 0
            ]
            item = {"name": item.get("name"), "last": item.get("last"), "buckets": buckets}
        listed.append(item)
    return {**state, "signals": listed}
