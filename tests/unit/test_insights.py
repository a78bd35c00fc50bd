"""Insights learned a block at a time are the insights learned point by point."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.insights import ForecastSpec, Insights


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 80),
    n_features=st.integers(1, 3),
    season_length=st.sampled_from([None, 4]),
    gaps=st.sampled_from([0.0, 0.1]),
)
def test_update_many_equals_update_on_each_row(
    seed: int, n: int, n_features: int, season_length: int | None, gaps: float
) -> None:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.choice([0.0, 10.0, 30.0], size=n))  # repeated timestamps too
    rows = rng.normal(100.0, 5.0, size=(n, n_features)) + np.linspace(0.0, 40.0, n)[:, None]
    rows[rng.random((n, n_features)) < gaps] = rng.choice([np.nan, np.inf, -np.inf])
    flagged = rng.random(n) < 0.2
    spec = ForecastSpec(season_length=season_length)
    one, many = Insights(spec, n_features), Insights(spec, n_features)
    for t, row, flag in zip(ts.tolist(), rows.tolist(), flagged.tolist(), strict=True):
        one.update(t, row, flag)
    many.update_many(ts, rows, flagged)
    assert many.to_state() == one.to_state()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 60), gaps=st.sampled_from([0.0, 0.1]))
def test_a_restored_state_goes_on_as_the_original(seed: int, n: int, gaps: float) -> None:
    """Features of the same points store their shared trend times once; the state restores
    (through JSON) to insights that go on exactly as the original."""
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.choice([1.0, 10.0, 30.0], size=n + 20))
    rows = rng.normal(100.0, 5.0, size=(n + 20, 3)) + np.linspace(0.0, 40.0, n + 20)[:, None]
    rows[rng.random(rows.shape) < gaps] = np.nan
    flagged = rng.random(n + 20) < 0.2
    spec = ForecastSpec()
    original = Insights(spec, 3)
    original.update_many(ts[:n], rows[:n], flagged[:n])
    state = json.loads(json.dumps(original.to_state()))
    if gaps == 0.0 and n:  # unless a change point keeps them apart
        calm = [not t.summary().change_points for t in original.trends]
        assert [isinstance(t, str) for t in state["trend"]] == [False] + [
            calm[0] and c for c in calm[1:]
        ]
    copy = Insights(spec, 3, state)
    for one in (original, copy):
        one.update_many(ts[n:], rows[n:], flagged[n:])
    assert copy.to_state() == original.to_state()
    args = (["a", "b", "c"], 5, [(100.0, 5.0)] * 3, 3.0, 10.0, 0.0)
    assert copy.report(*args) == original.report(*args)  # type: ignore[arg-type]


def test_insights_of_the_earlier_layout_load() -> None:
    spec = ForecastSpec()
    original = Insights(spec, 2)
    ts = np.arange(0.0, 300.0, 10.0)
    original.update_many(ts, np.column_stack([ts, ts % 7]), np.zeros(len(ts), dtype=bool))
    earlier = {**original.to_state(), "trend": [t.to_state() for t in original.trends]}
    assert Insights(spec, 2, earlier).to_state() == original.to_state()
