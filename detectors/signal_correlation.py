"""Correlation between the signals of one entity, on a common event-time grid.

:class:`SignalCorrelator` correlates signals of one entity that arrive at different times from
different streams (a metric, a log stream's error ratio, behaviour's rarity), after putting them
on buckets of event time, in bounded, JSON-serialisable state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from detectors._checks import require_finite, require_int, require_unit, state_field
from detectors.base import DetectorError
from detectors.ew_moments import finite_or_nan
from detectors.signal_state import _listed_buckets, _runs, pack_means
from detectors.signal_state import expanded as expanded  # its doctests and callers use it here


def _six_digits(value: float) -> float:
    return float(f"{value:.6g}")


#: numpy's pairwise summation: runs of up to this many values are summed in 8 accumulators.
_PAIRWISE_BLOCK = 128


def _pairwise_sum(values: list[float], lo: int, n: int, mean: float) -> float:
    """The sum of ``values[lo : lo + n] - mean`` in numpy's pairwise order (its
    ``pairwise_sum`` of a contiguous run of doubles: up to 7 values one after the other, up to
    :data:`_PAIRWISE_BLOCK` in 8 accumulators added as a tree, longer runs halved at a multiple
    of 8), so the same float as ``(np.array(values[lo : lo + n]) - mean).sum()`` but for the
    sign of a zero sum (numpy adds its identity 0.0 first: :func:`_rest_sums` does too).

    >>> _pairwise_sum([0.1] * 20, 0, 20, 0.0) == float(np.full(20, 0.1).sum())
    True
    """
    if n < 8:
        total = 0.0
        for i in range(lo, lo + n):
            total += values[i] - mean
        return total
    if n <= _PAIRWISE_BLOCK:
        r0 = values[lo] - mean
        r1 = values[lo + 1] - mean
        r2 = values[lo + 2] - mean
        r3 = values[lo + 3] - mean
        r4 = values[lo + 4] - mean
        r5 = values[lo + 5] - mean
        r6 = values[lo + 6] - mean
        r7 = values[lo + 7] - mean
        i = 8
        whole = n - n % 8
        while i < whole:
            at = lo + i
            r0 += values[at] - mean
            r1 += values[at + 1] - mean
            r2 += values[at + 2] - mean
            r3 += values[at + 3] - mean
            r4 += values[at + 4] - mean
            r5 += values[at + 5] - mean
            r6 += values[at + 6] - mean
            r7 += values[at + 7] - mean
            i += 8
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            total += values[lo + i] - mean
            i += 1
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(values, lo, half, mean) + _pairwise_sum(values, lo + half, n - half, mean)


def _rest_sums(
    values: list[float], starts: list[int], sizes: list[int], means: list[float]
) -> list[float]:
    """For each run ``values[start : start + size]``, the sum of ``values[start + 1 : start +
    size] - mean``, float for float what numpy's ``sum`` of that slice gives (compiled, see
    ``detectors.kernel``: a loop, not a numpy call per run length).

    Examples
    --------
    >>> _rest_sums([1.0, 2.0, 4.0, 10.0, 7.0, 5.0], [0, 3, 4], [3, 1, 2], [1.0, 10.0, 6.0])
    [4.0, 0.0, -1.0]
    """
    return [
        0.0 + _pairwise_sum(values, start + 1, size - 1, mean) if size > 1 else 0.0
        for start, size, mean in zip(starts, sizes, means, strict=True)
    ]


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson r of two equally long lists (two-pass), or None if either has no spread.

    Examples
    --------
    >>> pearson([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    0.9933992677987828
    >>> pearson([1.0, 1.0], [2.0, 3.0]) is None
    True
    """
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0.0 or syy <= 0.0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


class _Signal:
    __slots__ = ("buckets", "last")

    def __init__(self, last: int) -> None:
        self.last = last
        self.buckets: dict[int, tuple[float, int]] = {}


class SignalCorrelator:
    """Pearson correlation between signals of one entity, on a common event-time grid.

    Signals (e.g. ``"metrics:latency_ms"``, ``"logs:error_ratio"``, ``"behavior:rarity"``)
    arrive at their own times. Each value goes to the bucket ``floor(ts / bucket)`` of its
    signal, which keeps the mean of its values (to 6 significant digits, so the state stays
    small and a restored correlator behaves exactly like the original). A signal keeps the
    buckets within ``window`` buckets of its newest one; a value older than that is dropped.
    Two signals are correlated over the buckets both have. At most ``max_signals`` signals are
    kept: a new one evicts the least recently updated. NaN and infinite values are gaps.

    The state takes about 20 bytes of JSON per bucket: 3 signals with the default 30 buckets
    take about 2 KB, 16 signals about 10 KB.

    Parameters
    ----------
    bucket
        Bucket width in seconds of event time, positive.
    window
        Buckets kept per signal, at least 2.
    max_signals
        Signals kept, at least 2.

    Examples
    --------
    >>> sc = SignalCorrelator(bucket=60.0, window=30)
    >>> for minute, (latency, errors) in enumerate([(100, 0.01), (180, 0.09), (120, 0.02),
    ...                                             (200, 0.12), (110, 0.015), (190, 0.1)]):
    ...     sc.add("metrics:latency_ms", minute * 60.0, latency)
    ...     sc.add("metrics:latency_ms", minute * 60.0 + 30.0, latency + 2)
    ...     sc.add("logs:error_ratio", minute * 60.0 + 45.0, errors)
    >>> [(name, round(r, 3)) for name, r in sc.partners("metrics:latency_ms")]
    [('logs:error_ratio', 0.995)]
    >>> sc.partners("logs:error_ratio", min_buckets=7)
    []
    """

    def __init__(self, bucket: float = 60.0, window: int = 30, max_signals: int = 16) -> None:
        self.bucket = require_finite("bucket", bucket)
        if self.bucket <= 0.0:
            raise DetectorError(f"bucket must be positive, got {self.bucket!r}")
        self.window = require_int("window", window, 2)
        self.max_signals = require_int("max_signals", max_signals, 2)
        self._signals: dict[str, _Signal] = {}

    @property
    def signals(self) -> list[str]:
        """Signal names, least recently updated first."""
        return list(self._signals)

    def add(self, signal: str, ts: float, value: float) -> None:
        """Add ``value`` of ``signal`` at event time ``ts`` (seconds); NaN or inf is a gap."""
        if not isinstance(signal, str) or not signal:
            raise DetectorError(f"signal must be a non-empty string, got {signal!r}")
        when = require_finite("ts", ts)
        v = finite_or_nan("value", value)
        if math.isnan(v):
            return
        index = math.floor(when / self.bucket)
        entry = self._signals.get(signal)
        if entry is None:
            entry = _Signal(index)
            if len(self._signals) >= self.max_signals:
                del self._signals[next(iter(self._signals))]
        elif index <= entry.last - self.window:
            return
        else:
            del self._signals[signal]
        self._signals[signal] = entry
        if index > entry.last:
            entry.last = index
            oldest = index - self.window
            for old in [k for k in entry.buckets if k <= oldest]:
                del entry.buckets[old]
        mean, count = entry.buckets.get(index, (0.0, 0))
        count += 1
        entry.buckets[index] = (_six_digits(mean + (v - mean) / count), count)

    def add_many(self, signal: str, ts: np.ndarray, values: np.ndarray) -> None:
        """Add many values of ``signal`` at once: the same buckets as :meth:`add` on each, a
        bucket's mean merged (and rounded) once per call rather than once per value.

        Examples
        --------
        >>> one, many = SignalCorrelator(), SignalCorrelator()
        >>> ts, values = np.arange(0.0, 300.0, 10.0), np.arange(30.0)
        >>> for t, v in zip(ts, values):
        ...     one.add("s", t, v)
        >>> many.add_many("s", ts, values)
        >>> one.to_state() == many.to_state()
        True
        """
        keep = np.isfinite(values) & np.isfinite(ts)
        if not keep.any():
            return
        indices = np.floor(ts[keep] / self.bucket).astype(np.int64)
        kept = values[keep]
        entry = self._signals.get(signal)
        newest = max(int(indices.max()), entry.last if entry is not None else -(2**62))
        recent = indices > newest - self.window  # the others would be dropped on the way
        indices, kept = indices[recent], kept[recent]
        if not len(indices):
            return
        if len(indices) > 1 and (indices[1:] < indices[:-1]).any():
            order = np.argsort(indices, kind="stable")  # a bucket's values stay in order
            indices, kept = indices[order], kept[order]
        starts = [0, *(np.flatnonzero(indices[1:] != indices[:-1]) + 1).tolist()]
        if not isinstance(signal, str) or not signal:
            raise DetectorError(f"signal must be a non-empty string, got {signal!r}")
        # What add does per value, once: move the signal to the most recent (a new one may
        # evict the least recent), merge each bucket, then drop the buckets left behind (none
        # of them is one of this call's, which are all within the window of the newest).
        if entry is None:
            entry = _Signal(newest)
            if len(self._signals) >= self.max_signals:
                del self._signals[next(iter(self._signals))]
        else:
            del self._signals[signal]
        self._signals[signal] = entry
        buckets = entry.buckets
        bucket_ids = indices[starts].tolist()
        firsts = kept[starts].tolist()
        # Each bucket's mean after its first value, then the sum of its other values' distances
        # to that mean, all buckets at once (summed as the slice of each would be).
        merged: list[tuple[float, int]] = []
        for index, first in zip(bucket_ids, firsts, strict=True):
            mean, count = buckets.get(index, (0.0, 0))
            count += 1
            merged.append((_six_digits(mean + (first - mean) / count), count))
        ends = [*starts[1:], len(indices)]
        sizes = [end - start for start, end in zip(starts, ends, strict=True)]
        rests = _rest_sums(kept.tolist(), starts, sizes, [mean for mean, _ in merged])
        for index, (mean, count), size, rest in zip(bucket_ids, merged, sizes, rests, strict=True):
            if size > 1:
                count += size - 1
                mean = _six_digits(mean + rest / count)
            buckets[index] = (mean, count)
        if newest > entry.last or len(buckets) > self.window:
            entry.last = newest
            for old in [k for k in buckets if k <= newest - self.window]:
                del buckets[old]

    def corr(self, a: str, b: str, min_buckets: int = 5) -> float | None:
        """Pearson r of the bucket means of ``a`` and ``b`` over the buckets both have.

        None if a signal is unknown, they share fewer than ``min_buckets`` buckets, or either is
        constant over them.
        """
        least = require_int("min_buckets", min_buckets, 2)
        first, second = self._signals.get(a), self._signals.get(b)
        if first is None or second is None or a == b:
            return None
        common = sorted(first.buckets.keys() & second.buckets.keys())
        if len(common) < least:
            return None
        return pearson(
            [first.buckets[k][0] for k in common], [second.buckets[k][0] for k in common]
        )

    def partners(
        self, signal: str, min_abs: float = 0.6, min_buckets: int = 5
    ) -> list[tuple[str, float]]:
        """Signals with ``|corr(signal, other)| >= min_abs``, as ``(name, r)`` by decreasing |r|."""
        threshold = require_unit("min_abs", min_abs)
        require_int("min_buckets", min_buckets, 2)
        found = []
        for other in self._signals:
            r = self.corr(signal, other, min_buckets)
            if r is not None and abs(r) >= threshold:
                found.append((other, r))
        return sorted(found, key=lambda item: (-abs(item[1]), item[0]))

    def to_state(self) -> dict[str, Any]:
        """Signals, least recently updated first, each with its newest bucket index (``last``)
        and its buckets from the oldest one kept, ``age`` buckets before ``last``, on: their
        ``means`` and ``counts`` (a bucket without values has mean None and count 0; means without
        such a bucket are stored as float32, :func:`detectors.signal_state.pack_means`). A signal
        with the same ``last`` and ``age`` as the one before it leaves them out; counts that
        repeat are stored as ``runs``, ``[count, times, ...]``, when that is shorter
        (:func:`detectors.signal_state.expanded` gives the state with every field).

        Examples
        --------
        >>> sc = SignalCorrelator(bucket=10.0)
        >>> sc.add("a", 5.0, 1.0)
        >>> sc.add("a", 7.0, 2.0)
        >>> sc.add("a", 31.0, 4.0)
        >>> sc.to_state()
        {'signals': [{'name': 'a', 'last': 3, 'age': 3, 'means': [1.5, None, None, 4.0], 'counts': [2, 0, 0, 1]}]}
        >>> for t in range(0, 40, 5):
        ...     sc.add("b", float(t), 1.0)
        >>> sc.to_state()["signals"][1]
        {'name': 'b', 'means': 'AACAPwAAgD8AAIA/AACAPw==', 'runs': [2, 4]}
        >>> expanded(sc.to_state())["signals"][1]
        {'name': 'b', 'last': 3, 'age': 3, 'means': [1.0, 1.0, 1.0, 1.0], 'counts': [2, 2, 2, 2]}
        """
        signals = []
        shared = None
        for name, entry in self._signals.items():
            buckets: Mapping[int, tuple[float | None, int]] = entry.buckets
            first = min(buckets, default=entry.last)
            if len(buckets) != entry.last - first + 1:  # gaps: buckets without values
                buckets = {k: buckets.get(k, (None, 0)) for k in range(first, entry.last + 1)}
            kept = [buckets[k] for k in sorted(buckets)]
            item: dict[str, Any] = {"name": name}
            if shared != (entry.last, first):
                shared = (entry.last, first)
                item["last"], item["age"] = entry.last, entry.last - first
            item["means"] = pack_means([mean for mean, _ in kept])
            counts = [count for _, count in kept]
            runs = _runs(counts)
            if len(runs) < len(counts):
                item["runs"] = runs
            else:
                item["counts"] = counts
            signals.append(item)
        return {"signals": signals}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **params: Any) -> Self:
        """Rebuild from a :meth:`to_state` dict (or one of earlier versions, whose signals list
        their buckets as ``[age, mean, count]``) and the constructor parameters.

        Buckets outside the window and the least recent signals beyond ``max_signals`` are
        dropped, so a state written with larger parameters loads.

        Examples
        --------
        >>> state = {"signals": [{"name": "a", "last": 3, "buckets": [[3, 1.5, 2], [0, 4.0, 1]]}]}
        >>> SignalCorrelator.from_state(state, bucket=10.0, window=2).to_state()
        {'signals': [{'name': 'a', 'last': 3, 'age': 0, 'means': 'AACAQA==', 'counts': [1]}]}
        """
        state = _listed_buckets(state)
        correlator = cls(**params)
        owner = "signal correlator"
        signals = state_field(state, "signals", owner)
        if not isinstance(signals, list):
            raise DetectorError(f"{owner} state signals must be a list, got {signals!r}")
        for s, item in enumerate(signals[-correlator.max_signals :]):
            where = f"{owner} state signals[{s}]"
            name = state_field(item, "name", where)
            if not isinstance(name, str) or not name or name in correlator._signals:
                raise DetectorError(f"{where} name must be a new non-empty string, got {name!r}")
            last = state_field(item, "last", where)
            if isinstance(last, bool) or not isinstance(last, int):
                raise DetectorError(f"{where} last must be an integer, got {last!r}")
            entry = _Signal(last)
            buckets = state_field(item, "buckets", where)
            if not isinstance(buckets, list):
                raise DetectorError(f"{where} buckets must be a list, got {buckets!r}")
            for b, bucket in enumerate(buckets):
                if not isinstance(bucket, list) or len(bucket) != 3:
                    raise DetectorError(
                        f"{where} buckets[{b}] must be [age, mean, count], got {bucket!r}"
                    )
                age = require_int(f"{where} buckets[{b}][0]", bucket[0], 0)
                mean = require_finite(f"{where} buckets[{b}][1]", bucket[1])
                count = require_int(f"{where} buckets[{b}][2]", bucket[2], 1)
                if age < correlator.window:  # six digits, as add keeps them (and older rows)
                    entry.buckets[last - age] = (_six_digits(mean), count)
            correlator._signals[name] = entry
        return correlator
