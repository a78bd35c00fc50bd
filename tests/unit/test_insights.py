"""Insights learned a block at a time are the insights learned point by point."""

from __future__ import annotations

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
