"""The adaptive detector's tail calibration: its base is the upper edge of the bin holding the
quantile of the deviations learned, whatever their order, and a calibration restored from its
counts learns on as the one that kept them."""

from __future__ import annotations

import math
import platform

import numpy as np
import pytest

from detectors._tail import (
    _BINS,
    _EDGES,
    TailCalibration,
    _bin,
    _edge,
    _learned_bin,
    _split_log10,
    _split_matches,
)


def _quantile_edge(zs: list[float], quantile: float) -> float:
    """The upper edge of the first bin whose running count reaches ``quantile`` of them."""
    counts = [0] * _BINS
    for z in zs:
        counts[_bin(z)] += 1
    running = 0
    for k in range(_BINS):
        running += counts[k]
        if running >= quantile * len(zs):
            return _edge(k + 1)
    raise AssertionError("no bin reaches the quantile")


def _deviations(seed: int) -> list[float]:
    """Quiet stretches, a burst of large deviations and a quiet stretch again, so the
    quantile's bin moves up and back down."""
    rng = np.random.default_rng(seed)
    parts = [
        np.abs(rng.normal(size=400)),
        np.abs(rng.normal(size=60)) * 50.0,
        np.abs(rng.normal(size=3000)) * 0.1,
    ]
    return [float(z) for z in np.concatenate(parts)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("quantile", [0.5, 0.9, 0.99])
def test_the_base_is_the_edge_of_the_bin_holding_the_quantile(seed: int, quantile: float) -> None:
    cal = TailCalibration(quantile, 0.05, 0.0)
    zs = _deviations(seed)
    for n, z in enumerate(zs, start=1):
        cal.learn(z)
        if n < 30 or n % 7 == 0 or n in (400, 430, 460, 500):
            assert cal.base == max(_quantile_edge(zs[:n], quantile), 0.0)


def test_a_calibration_restored_from_its_counts_learns_on_as_the_one_that_kept_them() -> None:
    zs = _deviations(0)
    kept = TailCalibration(0.99, 0.05, 2.0)
    for z in zs[:430]:
        kept.learn(z)
    restored = TailCalibration(0.99, 0.05, 2.0)
    restored.counts, restored.n = list(kept.counts), kept.n
    restored.base, restored.beta = kept.base, kept.beta
    for z in zs[430:]:
        kept.learn(z)
        restored.learn(z)
        assert (restored.base, restored.beta) == (kept.base, kept.beta)
        assert restored.score(z) == kept.score(z)
    assert not math.isnan(kept.beta)


def test_scoring_a_deviation_before_learning_it_or_another_changes_nothing_learned() -> None:
    zs = _deviations(1) + [0.0, -0.0, 1e-3, 0.0, 5.0, 5.0]
    learned = TailCalibration(0.99, 0.05, 2.0)
    same = TailCalibration(0.99, 0.05, 2.0)  # scores z, then learns it (as the step does)
    other = TailCalibration(0.99, 0.05, 2.0)  # scores another z, then learns z
    for n, z in enumerate(zs):
        learned.learn(z)
        same.score(z)
        same.learn(z)
        other.score(zs[n - 1] * 1.5)
        other.learn(z)
    for cal in (same, other):
        assert (cal.counts, cal.n, cal.base, cal.beta) == (
            learned.counts,
            learned.n,
            learned.base,
            learned.beta,
        )
        assert [cal.score(z) for z in (0.0, 0.5, 1.0, 3.0, 80.0)] == [
            learned.score(z) for z in (0.0, 0.5, 1.0, 3.0, 80.0)
        ]


def test_a_deviation_is_counted_in_the_bin_of_its_log10_without_the_log10_call() -> None:
    # learn finds the bin from the native natural log away from the edges: the same bin as
    # log10 gives on every edge and the floats next to it, and across the range and beyond
    rng = np.random.default_rng(0)
    zs = [0.0, 1e-300, 0.0099, 0.01, 1e4, 1e5, 1e300, 1.7e308]
    for edge in _EDGES:
        near = edge
        for _ in range(4):
            near = math.nextafter(near, -math.inf)
        for _ in range(9):
            zs.append(near)
            near = math.nextafter(near, math.inf)
        zs += [edge * (1 + 1e-7), edge * (1 - 1e-7), edge * (1 + 3e-6), edge * (1 - 3e-6)]
    zs += (10.0 ** rng.uniform(-3, 6, 50_000)).tolist()
    assert [_learned_bin(z) for z in zs] == [_bin(z) for z in zs]
    for bad in (math.nan, math.inf):  # as log10's bin: no bin
        with pytest.raises((ValueError, OverflowError)):
            _bin(bad)
        with pytest.raises((ValueError, OverflowError)):
            _learned_bin(bad)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="fdlibm's log10 is glibc's")
def test_the_log10_the_compiled_score_takes_natively_is_the_c_librarys_to_the_last_bit() -> None:
    # fdlibm's method (the natural log of the significand, the exponent's log10 in two parts):
    # the same float as math.log10 across its range, at the powers of two and beside them
    rng = np.random.default_rng(1)
    xs = (10.0 ** rng.uniform(-18, 18, 200_000)).tolist()
    for e in range(-62, 62):
        x = 2.0**e
        xs += [math.nextafter(x, 0.0), x, math.nextafter(x, math.inf), 10.0 ** (e / 4)]
    xs += [1e-2, 0.1, 1.0, 3.0, 1e4, 1e-300, 1e300, 0.0, math.inf, math.nan]
    got = [_split_log10(x) for x in xs[:-3]]
    assert got == [math.log10(x) for x in xs[:-3]]
    assert math.isnan(_split_log10(math.nan)) and _split_log10(math.inf) == math.inf
    with pytest.raises(ValueError):
        _split_log10(0.0)  # as log10
    assert _split_matches()
