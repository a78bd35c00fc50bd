"""Feature and signal correlation: against numpy.corrcoef, numpy's weighted covariance and
river.stats.PearsonCorr."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import stats

from detectors.base import DetectorError
from detectors.correlation import RollingCorrelation
from detectors.ew_moments import half_life_decay
from detectors.signal_correlation import SignalCorrelator, _rest_sums, expanded


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _correlated(seed: int, size: int, n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n, n))
    return rng.normal(size=(size, n)) @ mixing + rng.uniform(-50, 50, size=n)


@pytest.mark.parametrize("seed", range(4))
def test_infinite_half_life_is_pearson(seed: int) -> None:
    data = _correlated(seed, 200)
    rc = RollingCorrelation(4, half_life=math.inf, min_points=2)
    oracles = {pair: stats.PearsonCorr() for pair in _pairs(4)}
    for row in data:
        rc.update(row.tolist())
        for (i, j), oracle in oracles.items():
            oracle.update(float(row[i]), float(row[j]))
    expected = np.corrcoef(data, rowvar=False)
    for i, j in _pairs(4):
        r = rc.corr(i, j)
        assert r is not None
        assert r == pytest.approx(expected[i, j], abs=1e-12)
        assert r == pytest.approx(oracles[(i, j)].get(), abs=1e-12)
        assert rc.corr(j, i) == r


@pytest.mark.parametrize("half_life", [1.0, 8.0, 64.0])
def test_finite_half_life_is_weighted_pearson(half_life: float) -> None:
    data = _correlated(7, 150, n=3)
    rc = RollingCorrelation(3, half_life=half_life, min_points=2)
    for row in data:
        rc.update(row.tolist())
    ages = np.arange(len(data))[::-1]
    weights = 0.5 ** (ages / half_life)
    cov = np.cov(data, rowvar=False, aweights=weights)
    for i, j in _pairs(3):
        expected = cov[i, j] / math.sqrt(cov[i, i] * cov[j, j])
        assert rc.corr(i, j) == pytest.approx(expected, abs=1e-9)


def test_short_half_life_follows_a_change_of_sign() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    y = np.concatenate([x[:200], -x[200:]]) + rng.normal(scale=0.1, size=400)
    fast = RollingCorrelation(2, half_life=16.0)
    slow = RollingCorrelation(2, half_life=math.inf)
    for a, b in zip(x, y, strict=True):
        fast.update([a, b])
        slow.update([a, b])
    fast_r, slow_r = fast.corr(0, 1), slow.corr(0, 1)
    assert fast_r is not None and fast_r < -0.95
    assert slow_r is not None and abs(slow_r) < 0.2


def test_pairs_skip_points_with_a_gap() -> None:
    data = _correlated(5, 120, n=3)
    data[::7, 1] = np.nan
    data[::11, 2] = np.inf
    rc = RollingCorrelation(3, half_life=math.inf, min_points=2)
    for row in data:
        rc.update(row.tolist())
    finite = np.isfinite(data)
    for i, j in _pairs(3):
        rows = finite[:, i] & finite[:, j]
        expected = np.corrcoef(data[rows, i], data[rows, j])[0, 1]
        assert rc.corr(i, j) == pytest.approx(expected, abs=1e-12)
    state = rc.to_state()
    assert [pair[0] for pair in state["pairs"]] == [
        int((finite[:, i] & finite[:, j]).sum()) for i, j in _pairs(3)
    ]


def test_none_until_min_points_joint_points() -> None:
    rc = RollingCorrelation(2, min_points=4)
    for row in [[1.0, 2.0], [2.0, math.nan], [3.0, 5.0], [4.0, 7.0]]:
        rc.update(row)
    assert rc.corr(0, 1) is None  # 3 joint points
    rc.update([5.0, 11.0])
    assert rc.corr(0, 1) is not None


def test_constant_feature_has_no_correlation() -> None:
    rc = RollingCorrelation(2, min_points=2)
    for v in [1.0, 2.0, 3.0]:
        rc.update([v, 5.0])
    assert rc.corr(0, 1) is None
    assert rc.partners(0, min_abs=0.0) == []


def test_accurate_far_from_zero() -> None:
    data = _correlated(9, 300, n=2)
    near = RollingCorrelation(2, half_life=32.0)
    far = RollingCorrelation(2, half_life=32.0)
    for row in data:
        near.update(row.tolist())
        far.update((row + 1e9).tolist())
    assert far.corr(0, 1) == pytest.approx(near.corr(0, 1), abs=1e-6)


def test_partners_sorted_by_strength() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=300)
    noise = rng.normal(size=(300, 3))
    data = np.column_stack([base, base + 0.1 * noise[:, 0], -base + 0.5 * noise[:, 1], noise[:, 2]])
    rc = RollingCorrelation(4, half_life=math.inf)
    for row in data:
        rc.update(row.tolist())
    found = rc.partners(0)
    assert [j for j, _ in found] == [1, 2]
    assert found[0][1] > 0.99 and -0.95 < found[1][1] < -0.8
    assert [j for j, _ in rc.partners(0, min_abs=0.95)] == [1]
    assert [j for j, _ in rc.partners(0, min_abs=0.0)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_features": 0}, "n_features must be an integer >= 1, got 0"),
        ({"n_features": 33}, "n_features must be at most 32 for correlation, got 33"),
        ({"n_features": 2, "half_life": 0.0}, "half_life must be positive, got 0.0"),
        ({"n_features": 2, "half_life": math.nan}, "half_life must be positive, got nan"),
        ({"n_features": 2, "half_life": "8"}, "half_life must be a number, got '8'"),
        ({"n_features": 2, "min_points": 1}, "min_points must be an integer >= 2, got 1"),
    ],
)
def test_parameter_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        RollingCorrelation(**kwargs)  # type: ignore[arg-type]


def test_input_validation() -> None:
    rc = RollingCorrelation(3)
    with pytest.raises(DetectorError, match=r"x must have 3 values \(n_features\), got 2"):
        rc.update([1.0, 2.0])
    with pytest.raises(DetectorError, match=r"x\[1\] must be a number, got 'a'"):
        rc.update([1.0, "a", 2.0])  # type: ignore[list-item]
    with pytest.raises(DetectorError, match="j must be a feature index from 0 to 2, got 3"):
        rc.corr(0, 3)
    with pytest.raises(DetectorError, match="i and j must be different features, got 1 twice"):
        rc.corr(1, 1)
    with pytest.raises(DetectorError, match="i must be a feature index from 0 to 2, got -1"):
        rc.partners(-1)
    with pytest.raises(DetectorError, match=r"min_abs must be in \[0, 1\], got 1.5"):
        rc.partners(0, min_abs=1.5)


def test_typical_state_size() -> None:
    rc = RollingCorrelation(4)
    for row in _correlated(2, 500):
        rc.update(row.tolist())
    size = len(json.dumps(rc.to_state()))
    assert 300 < size < 600  # 6 pairs of [n, 6 packed floats]


def test_bad_state() -> None:
    with pytest.raises(DetectorError, match="correlation state pairs must have 3 values, got 1"):
        RollingCorrelation.from_state({"pairs": [[0, 0, 0, 0, 0, 0, 0]]}, n_features=3)
    with pytest.raises(DetectorError, match=r"correlation state pairs\[0\]\[4\] must be finite"):
        RollingCorrelation.from_state(
            {"pairs": [[1, 1.0, 0.0, 0.0, math.inf, 0.0, 0.0]]}, n_features=2
        )


rows = st.lists(
    st.lists(
        st.one_of(st.floats(-1e3, 1e3), st.just(math.nan)),
        min_size=3,
        max_size=3,
    ),
    min_size=0,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(before=rows, after=rows, half_life=st.sampled_from([2.0, 64.0, math.inf]))
def test_state_round_trip_gives_identical_results(
    before: list[list[float]], after: list[list[float]], half_life: float
) -> None:
    params = {"n_features": 3, "half_life": half_life, "min_points": 2}
    original = RollingCorrelation(**params)  # type: ignore[arg-type]
    for row in before:
        original.update(row)
    copy = RollingCorrelation.from_state(json.loads(json.dumps(original.to_state())), **params)
    for row in after:
        original.update(row)
        copy.update(row)
    assert copy.to_state() == original.to_state()
    for i in range(3):
        assert copy.partners(i, min_abs=0.0) == original.partners(i, min_abs=0.0)


def test_half_life_decay() -> None:
    assert half_life_decay(2.0) ** 2 == pytest.approx(0.5)
    assert half_life_decay(math.inf) == 1.0


# SignalCorrelator


def _bucket_means(times: np.ndarray, values: np.ndarray, bucket: float) -> dict[int, float]:
    index = np.floor(times / bucket).astype(int)
    return {int(k): float(values[index == k].mean()) for k in np.unique(index)}


def test_signals_at_different_times_against_numpy() -> None:
    rng = np.random.default_rng(4)
    start = 1_795_766_400.0
    load = rng.normal(size=40)  # one value per minute drives both signals
    latency_t = start + np.sort(rng.uniform(0, 2400, 300))
    errors_t = start + np.sort(rng.uniform(0, 2400, 120))
    rarity_t = start + np.sort(rng.uniform(0, 2400, 90))

    def minute(t: np.ndarray) -> np.ndarray:
        return ((t - start) // 60).astype(int)

    latency = 100 + 20 * load[minute(latency_t)] + rng.normal(scale=3, size=300)
    errors = 0.05 - 0.01 * load[minute(errors_t)] + rng.normal(scale=0.002, size=120)
    rarity = rng.normal(size=90)
    sc = SignalCorrelator(bucket=60.0, window=40)
    events = [("metrics:latency_ms", t, v) for t, v in zip(latency_t, latency, strict=True)]
    events += [("logs:error_ratio", t, v) for t, v in zip(errors_t, errors, strict=True)]
    events += [("behavior:rarity", t, v) for t, v in zip(rarity_t, rarity, strict=True)]
    for name, t, v in sorted(events, key=lambda e: e[1]):
        sc.add(name, float(t), float(v))
    a = _bucket_means(latency_t, latency, 60.0)
    b = _bucket_means(errors_t, errors, 60.0)
    common = sorted(a.keys() & b.keys())
    expected = np.corrcoef([a[k] for k in common], [b[k] for k in common])[0, 1]
    r = sc.corr("metrics:latency_ms", "logs:error_ratio")
    assert r == pytest.approx(expected, abs=1e-5)
    assert r is not None and r < -0.9
    partners = sc.partners("metrics:latency_ms")
    assert [name for name, _ in partners] == ["logs:error_ratio"]
    assert sc.partners("behavior:rarity") == []


def _buckets(sc: SignalCorrelator) -> list[list[float]]:
    """The first signal's buckets as ``[age, mean, count]``."""
    return _buckets_of(expanded(sc.to_state())["signals"][0])


def _buckets_of(signal: dict[str, Any]) -> list[list[float]]:
    return [
        [signal["age"] - i, mean, count]
        for i, (mean, count) in enumerate(zip(signal["means"], signal["counts"], strict=True))
        if count
    ]


def test_window_keeps_the_newest_buckets_and_drops_late_values() -> None:
    sc = SignalCorrelator(bucket=10.0, window=3)
    for t in [0.0, 10.0, 20.0, 30.0]:
        sc.add("a", t, t)
    assert _buckets(sc) == [[2, 10.0, 1], [1, 20.0, 1], [0, 30.0, 1]]
    sc.add("a", 5.0, 99.0)  # bucket 0 is outside the window: dropped
    sc.add("a", 12.0, 30.0)  # bucket 1 is inside: merged
    assert _buckets(sc) == [[2, 20.0, 2], [1, 20.0, 1], [0, 30.0, 1]]


def test_least_recently_updated_signal_is_evicted() -> None:
    sc = SignalCorrelator(max_signals=2)
    sc.add("a", 0.0, 1.0)
    sc.add("b", 0.0, 1.0)
    sc.add("a", 60.0, 2.0)
    sc.add("c", 60.0, 3.0)
    assert sc.signals == ["a", "c"]


def test_min_buckets_and_gaps() -> None:
    sc = SignalCorrelator(bucket=1.0)
    for t in range(6):
        sc.add("a", float(t), float(t))
        sc.add("b", float(t), float(2 * t) if t != 2 else math.nan)
    sc.add("c", 0.0, math.nan)
    assert sc.signals == ["a", "b"]
    assert sc.corr("a", "b") == pytest.approx(1.0)
    assert sc.corr("a", "b", min_buckets=6) is None
    assert sc.partners("a", min_buckets=6) == []
    assert sc.corr("a", "unknown") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bucket": 0.0}, "bucket must be positive, got 0.0"),
        ({"window": 1}, "window must be an integer >= 2, got 1"),
        ({"max_signals": 1}, "max_signals must be an integer >= 2, got 1"),
    ],
)
def test_signal_parameter_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        SignalCorrelator(**kwargs)  # type: ignore[arg-type]


def test_signal_input_validation() -> None:
    sc = SignalCorrelator()
    with pytest.raises(DetectorError, match="signal must be a non-empty string, got ''"):
        sc.add("", 0.0, 1.0)
    with pytest.raises(DetectorError, match="ts must be finite, got nan"):
        sc.add("a", math.nan, 1.0)
    with pytest.raises(DetectorError, match="min_buckets must be an integer >= 2, got 1"):
        sc.partners("a", min_buckets=1)


def test_signal_state_size_for_three_signals() -> None:
    rng = np.random.default_rng(0)
    sc = SignalCorrelator()
    for minute in range(60):
        for k in range(6):
            t = 1_795_766_400.0 + 60.0 * minute + 10.0 * k
            sc.add("metrics:latency_ms", t, float(rng.normal(120, 15)))
            sc.add("logs:error_ratio", t + 3.0, float(rng.uniform(0, 0.2)))
            sc.add("behavior:rarity", t + 7.0, float(rng.exponential()))
    assert len(json.dumps(sc.to_state())) < 2000


def test_bad_signal_state() -> None:
    with pytest.raises(DetectorError, match="signal correlator state has no field 'signals'"):
        SignalCorrelator.from_state({})
    state = {"signals": [{"name": "a", "last": 3, "buckets": [[0, 1.0, 0]]}]}
    with pytest.raises(DetectorError, match=r"buckets\[0\]\[2\] must be an integer >= 1, got 0"):
        SignalCorrelator.from_state(state)
    state = {"signals": [{"name": "a", "last": 3, "age": 1, "means": [1.0], "counts": [1, 2]}]}
    with pytest.raises(DetectorError, match="signal correlator state has a bad signal"):
        SignalCorrelator.from_state(state)
    state = {"signals": [{"name": "a", "last": 3, "age": 0, "means": [None], "counts": [1]}]}
    with pytest.raises(DetectorError, match=r"buckets\[0\]\[1\] must be a number, got None"):
        SignalCorrelator.from_state(state)


events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.floats(0, 3000),
        st.one_of(st.floats(-100, 100), st.just(math.nan)),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(before=events, after=events)
def test_signal_state_round_trip_gives_identical_results(
    before: list[tuple[str, float, float]], after: list[tuple[str, float, float]]
) -> None:
    params = {"bucket": 60.0, "window": 10, "max_signals": 3}
    original = SignalCorrelator(**params)  # type: ignore[arg-type]
    for event in before:
        original.add(*event)
    copy = SignalCorrelator.from_state(json.loads(json.dumps(original.to_state())), **params)
    # the same state as earlier versions wrote it, each bucket as [age, mean, count]
    signals = expanded(original.to_state())["signals"]
    listed = {
        "signals": [
            {"name": s["name"], "last": s["last"], "buckets": _buckets_of(s)} for s in signals
        ]
    }
    old = SignalCorrelator.from_state(json.loads(json.dumps(listed)), **params)
    # ... and as 0b08944 wrote it, last, age and counts on every signal
    full = SignalCorrelator.from_state(json.loads(json.dumps({"signals": signals})), **params)
    for event in after:
        for correlator in (original, copy, old, full):
            correlator.add(*event)
    assert copy.to_state() == original.to_state() == old.to_state() == full.to_state()
    for name in original.signals:
        assert copy.partners(name, 0.0, 2) == original.partners(name, 0.0, 2)
        assert old.partners(name, 0.0, 2) == original.partners(name, 0.0, 2)
        assert full.partners(name, 0.0, 2) == original.partners(name, 0.0, 2)


def test_signals_on_one_grid_store_their_window_once_and_steady_counts_as_runs() -> None:
    sc = SignalCorrelator()
    for k in range(100):
        sc.add("metrics:m:cpu", 10.0 * k, float(k % 7))
        sc.add("metrics:m:mem", 10.0 * k, float(k % 5))
    first, second = sc.to_state()["signals"]
    assert (first["last"], first["age"]) == (16, 16) and "last" not in second
    assert first["runs"] == second["runs"] == [6, 16, 4, 1]
    assert expanded(sc.to_state())["signals"][1]["counts"] == [6] * 16 + [4]
    with pytest.raises(DetectorError, match="signal correlator state has a bad signal"):
        SignalCorrelator.from_state({"signals": [{**first, "runs": [6, 0]}]})


def test_means_without_a_gap_are_stored_as_float32_and_the_lists_of_before_load() -> None:
    rng = np.random.default_rng(4)
    sc = SignalCorrelator()
    for k in range(170):
        sc.add("metrics:m:cpu", 10.0 * k, float(rng.normal(100.0, 5.0)))
        sc.add("metrics:m:mem", 10.0 * k, float(rng.normal(5.0, 1.0)))
    state = sc.to_state()
    assert all(isinstance(s["means"], str) for s in state["signals"])
    # as 9065689 wrote it: the six-digit means as a list of numbers
    lists = {
        "signals": [
            {**s, "means": m["means"]}
            for s, m in zip(state["signals"], expanded(state)["signals"], strict=True)
        ]
    }
    assert all(len(s["means"]) == 29 for s in lists["signals"])
    assert len(json.dumps(state)) < 0.75 * len(json.dumps(lists))
    again = SignalCorrelator.from_state(json.loads(json.dumps(lists)))
    assert again.to_state() == state
    assert again.partners("metrics:m:cpu", 0.0, 2) == sc.partners("metrics:m:cpu", 0.0, 2)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), in_order=st.booleans(), calls=st.integers(1, 3))
def test_add_many_keeps_the_buckets_of_add_one_by_one(
    seed: int, in_order: bool, calls: int
) -> None:
    """Same buckets and counts; a bucket's mean, merged once per call, agrees closely."""
    rng = np.random.default_rng(seed)
    one, many = SignalCorrelator(window=12), SignalCorrelator(window=12)
    for _ in range(calls):
        n = int(rng.integers(1, 200))
        ts = rng.uniform(0.0, 3000.0, n)
        ts = np.sort(ts) if in_order else ts
        values = rng.normal(100.0, 5.0, n)
        values[rng.random(n) < 0.05] = np.nan
        for t, v in zip(ts.tolist(), values.tolist(), strict=True):
            one.add("s", t, v)
        many.add_many("s", ts, values)
    want, got = expanded(one.to_state())["signals"], expanded(many.to_state())["signals"]
    assert [(s["last"], s["age"], s["counts"]) for s in got] == [
        (s["last"], s["age"], s["counts"]) for s in want
    ]
    mine = got[0]["means"] if got else []
    theirs = want[0]["means"] if want else []
    for have, expected in zip(mine, theirs, strict=True):
        assert (have is None) == (expected is None)
        if have is not None:
            assert math.isclose(have, expected, rel_tol=1e-4)  # add rounds every value


def _sums_slice_by_slice(
    values: np.ndarray, starts: np.ndarray, sizes: np.ndarray, means: list[float]
) -> list[float]:
    return [
        float((values[s + 1 : s + n] - m).sum()) if n > 1 else 0.0
        for s, n, m in zip(starts.tolist(), sizes.tolist(), means, strict=True)
    ]


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    sizes=st.lists(
        st.sampled_from([1, 2, 3, 7, 8, 9, 15, 16, 17, 30, 128, 129, 257, 300, 1000]),
        min_size=1,
        max_size=12,
    ),
    scale=st.sampled_from([1e-6, 1.0, 1e9, 0.0]),
)
def test_the_runs_are_summed_as_each_slice_would_be(
    seed: int, sizes: list[int], scale: float
) -> None:
    """add_many sums a bucket's values in a compiled loop: float for float what numpy sums the
    bucket's own slice to (its pairwise order, blocks of 8 and 128 included; the sign of a zero
    sum too: a scale of 0 makes every distance a zero)."""
    rng = np.random.default_rng(seed)
    lengths = np.array(sizes)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    values = rng.normal(100.0, 5.0, int(lengths.sum())) * scale
    means = (rng.normal(100.0, 5.0, len(sizes)) * scale).tolist()
    got = _rest_sums(values.tolist(), starts.tolist(), sizes, means)
    want = _sums_slice_by_slice(values, starts, lengths, means)
    assert [(x, math.copysign(1.0, x)) for x in got] == [(x, math.copysign(1.0, x)) for x in want]
