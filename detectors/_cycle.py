"""The bins of one period, per feature, and their level: the core of a seasonal profile.

Python lists: a fold touches one bin of each feature, where numpy's cost per call on a few
numbers would dominate (numpy only re-centres a whole period). See :mod:`detectors.seasonality` for the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from detectors._checks import state_field
from detectors._packed import pack_decimals, pack_floats, unpack_decimals, unpack_floats
from detectors.base import DetectorError

Sides = list[tuple[float, float, float, float]]
"""Per feature, ``(a, b)`` of the row's left half-bin then of its right half-bin: the offset at
a distance ``w`` (0 to 0.5 bin) from the bin's centre is ``a + w * (b - a)``."""

_NAN = math.nan


def round6(value: float, big: float) -> float:
    """``value`` rounded to 6 significant digits of ``big >= abs(value)``: a multiple of a power
    of ten, which :func:`detectors._packed.pack_decimals` stores exactly unless it is tiny.

    Examples
    --------
    >>> round6(3.14159265, 10.0), round6(0.00012345678, 10.0), round6(1234567.8, 2e6)
    (3.1416, 0.0001, 1234570.0)
    """
    if not big > 0.0 or not math.isfinite(big):
        return value
    digits = 5 - math.floor(math.log10(big))
    if digits > 300:
        return value
    if digits >= 0:
        scale = 10.0**digits
        return round(value * scale) / scale
    scale = 10.0**-digits
    return round(value / scale) * scale


def round6_all(values: np.ndarray, big: float) -> list[float]:
    """:func:`round6` of each value (the same floats, with numpy).

    Examples
    --------
    >>> round6_all(np.array([3.14159265, -0.00012345678]), 10.0)
    [3.1416, -0.0001]
    """
    if not big > 0.0 or not math.isfinite(big):
        return [float(x) for x in values]
    digits = 5 - math.floor(math.log10(big))
    if digits > 300:
        return [float(x) for x in values]
    if digits >= 0:
        scale = 10.0**digits
        rounded: list[float] = (np.rint(values * scale) / scale).tolist()
    else:
        scale = 10.0**-digits
        rounded = (np.rint(values / scale) * scale).tolist()
    return rounded


class Cycle:
    """Bins of ``period / bins`` seconds for each feature: ``m`` (mean of ``v - level`` over the
    bin's last ``memory`` visits), ``n`` (visits, up to ``memory``), and the level.

    ``tests`` (optional) sums, per feature, the squared out-of-sample error of a visit's mean
    about the level without and with the bin's offset (see :meth:`explained`).

    Examples
    --------
    >>> cycle = Cycle(1, period=4.0, bins=4, memory=2, tests=True)
    >>> for a, v in enumerate([1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0]):
    ...     cycle.fold(a, [v])
    >>> cycle.primed, cycle.m, cycle.level
    (True, [[-1.0, 1.0, -1.0, 1.0]], [2.0])
    >>> cycle.offset(0, 1), cycle.explained()
    (1.0, [1.0])
    """

    def __init__(self, n_features: int, period: float, bins: int, memory: int, tests: bool) -> None:
        self.n_features, self.period, self.bins, self.memory = n_features, period, bins, memory
        self.width = period / bins
        self.m = [[0.0] * bins for _ in range(n_features)]
        self.n = [[0] * bins for _ in range(n_features)]
        self.level = [_NAN] * n_features
        self.tests: list[list[float]] | None = (
            [[0.0] * n_features, [0.0] * n_features] if tests else None
        )
        self.on = [True] * n_features
        self.first: int | None = None  # absolute bin of the first fold
        self.last: int | None = None  # absolute bin of the latest fold
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the derived sums (the same whatever the path to the state)."""
        self._cached: tuple[int, Sides] | None = None
        self.filled = [sum(1 for c in counts if c) for counts in self.n]
        self.mean = [sum(row) / max(k, 1) for row, k in zip(self.m, self.filled, strict=True)]
        self.big = [max(map(abs, row)) for row in self.m]

    def copy(self) -> Cycle:
        """An independent copy."""
        other = Cycle.__new__(Cycle)
        other.__dict__.update(self.__dict__)
        other.m = [row[:] for row in self.m]
        other.n = [row[:] for row in self.n]
        other.level, other.on = self.level[:], self.on[:]
        other.tests = None if self.tests is None else [row[:] for row in self.tests]
        other.filled, other.mean, other.big = self.filled[:], self.mean[:], self.big[:]
        return other

    @property
    def primed(self) -> bool:
        """Whether a full period has been folded."""
        return (
            self.first is not None and self.last is not None and self.last - self.first >= self.bins
        )

    def offset(self, f: int, k: int) -> float | None:
        """Centred value of bin ``k`` of feature ``f``; None without data."""
        return self.m[f][k] - self.mean[f] if self.n[f][k] else None

    def explained(self) -> list[float]:
        """Per feature, ``1 - sum(e1**2) / sum(e0**2)`` of the tests (``-inf`` before any)."""
        assert self.tests is not None
        return [
            1.0 - with_bins / without if without > 0 else -math.inf
            for without, with_bins in zip(*self.tests, strict=True)
        ]

    def switch_off(self, on: list[bool]) -> None:
        """Keep only the features of ``on``: the others offset 0 and learn nothing."""
        self.on = on[:]
        for f, keep in enumerate(on):
            if not keep:
                self.m[f] = [0.0] * self.bins
                self.n[f] = [0] * self.bins
        self._refresh()

    def sides(self, a: int) -> Sides:
        """The interpolation of absolute bin ``a`` between its neighbours' centres, per feature
        (a bin without data takes its neighbour's value; both without: 0)."""
        b = a % self.bins
        if self._cached is not None and self._cached[0] == b:
            return self._cached[1]
        before, after = (b - 1) % self.bins, (b + 1) % self.bins
        out: Sides = []
        for f in range(self.n_features):
            own = self.offset(f, b)
            pair = []
            for k in (before, after):
                other = self.offset(f, k)
                if own is None:
                    pair += [other or 0.0] * 2
                else:
                    pair += [own, own if other is None else other]
            out.append((pair[0], pair[1], pair[2], pair[3]))
        self._cached = (b, out)
        return out

    def fold(self, a: int, v: list[float | None], misses: list[list[float]] | None = None) -> None:
        """Fold a visit of absolute bin ``a`` with per-feature means ``v`` (None: no data);
        ``misses`` (optional) gains, per feature, the squared error of ``v`` about the level
        plus the bin's offset and a count, for a visit to a bin seen before once primed."""
        take = [f for f in range(self.n_features) if v[f] is not None and self.on[f]]
        if not take:
            return
        if self.first is None or self.last is None:
            self.first = self.last = a
        primed = a - self.first >= self.bins
        if primed and (
            self.last - self.first < self.bins or a // self.bins > self.last // self.bins
        ):
            self._recentre()
        b = a % self.bins
        self._cached = None
        weight = -math.expm1(-(a - self.last) * self.width / self.period) if primed else 0.0
        tests = self.tests
        for f in take:
            x = v[f]
            assert x is not None
            if math.isnan(self.level[f]):
                self.level[f] = x
            row, counts = self.m[f], self.n[f]
            error = x - self.level[f]
            seen = counts[b]
            offset = row[b] - self.mean[f] if seen else 0.0
            if primed and seen:
                miss = (error - offset) ** 2
                if tests is not None:
                    tests[0][f] += error * error
                    tests[1][f] += miss
                if misses is not None:
                    misses[0][f] += miss
                    misses[1][f] += 1.0
            count = min(seen + 1, self.memory)
            old = row[b]
            raw = old + (error - old) / count
            new = row[b] = round6(raw, max(self.big[f], abs(raw)))
            counts[b] = count
            if not seen:
                self.filled[f] += 1
            if abs(new) >= self.big[f]:
                self.big[f] = abs(new)
            elif abs(old) == self.big[f]:
                self.big[f] = max(map(abs, row))
            self.mean[f] = sum(row) / self.filled[f]
            self.level[f] += weight * (error - offset)
        self.last = a

    def _recentre(self) -> None:
        """Move the mean of the bins into the level (the offsets do not change)."""
        for f in range(self.n_features):
            mean, counts = self.mean[f], self.n[f]
            if not self.filled[f]:
                continue
            if not math.isnan(self.level[f]):
                self.level[f] += mean
            shifted = np.where(np.array(counts) > 0, np.array(self.m[f]) - mean, 0.0)
            self.m[f] = round6_all(shifted, float(np.abs(shifted).max()))
        self._refresh()

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any]:
        """``m`` packed decimals (or ``mf`` packed floats), ``n`` an int when every bin has the
        same count else one digit a bin, ``l`` the levels (and tests) as packed floats, ``a``
        the first and latest folded bins, ``on`` the features kept when not all."""
        flat = [x for row in self.m for x in row]
        packed = pack_decimals(flat)
        state: dict[str, Any] = {"m": packed} if packed is not None else {"mf": pack_floats(flat)}
        counts = [c for row in self.n for c in row]
        uniform = all(c == counts[0] for c in counts)
        state["n"] = counts[0] if uniform else "".join(map(str, counts))
        numbers = self.level if self.tests is None else self.level + self.tests[0] + self.tests[1]
        state["l"] = pack_floats(numbers)
        if self.first is not None:
            state["a"] = [self.first, self.last]
        if not all(self.on):
            state["on"] = "".join("1" if x else "0" for x in self.on)
        return state

    def load(self, state: Mapping[str, Any], owner: str) -> None:
        """Take the learned values of a :meth:`to_state` dict; DetectorError naming the field."""
        nf, bins = self.n_features, self.bins
        size = nf * bins
        if "m" in state:
            flat = unpack_decimals(f"{owner} m", state["m"])
        else:
            flat = unpack_floats(f"{owner} mf", state_field(state, "mf", owner), size)
        if len(flat) != size:
            raise DetectorError(f"{owner} m must hold {size} bins, got {len(flat)}")
        counts = state_field(state, "n", owner)
        if isinstance(counts, int) and not isinstance(counts, bool):
            digits = [counts] * size
        elif isinstance(counts, str) and len(counts) == size and counts.isdigit():
            digits = [int(c) for c in counts]
        else:
            raise DetectorError(f"{owner} n must be an int or {size} digits, got {counts!r}")
        if any(not 0 <= c <= self.memory for c in digits):
            raise DetectorError(f"{owner} n must count 0 to {self.memory} visits a bin")
        self.m = [flat[f * bins : (f + 1) * bins] for f in range(nf)]
        self.n = [digits[f * bins : (f + 1) * bins] for f in range(nf)]
        width = nf if self.tests is None else 3 * nf
        numbers = unpack_floats(f"{owner} l", state_field(state, "l", owner), width)
        self.level = numbers[:nf]
        if self.tests is not None:
            self.tests = [numbers[nf : 2 * nf], numbers[2 * nf :]]
        marks = state.get("a")
        if marks is not None:
            if not (
                isinstance(marks, list)
                and len(marks) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in marks)
            ):
                raise DetectorError(f"{owner} a must be two ints, got {marks!r}")
            self.first, self.last = marks
        on = state.get("on")
        if on is not None:
            if not (isinstance(on, str) and len(on) == nf and set(on) <= {"0", "1"}):
                raise DetectorError(f"{owner} on must be {nf} flags of 0 or 1, got {on!r}")
            self.on = [c == "1" for c in on]
        self._refresh()
