"""The single-point path's speed-ups give what their plain forms give, to the last bit.

Most producers send one point per message, which ``score_batch`` scores point by point (up to
``SMALL_BATCH`` points). Its points go to the scorer as Python floats copied without numpy
(``_small_points``) instead of through ``np.asarray(...).tolist()``; the same messages scored
both ways must give the same outcomes, events, states and counters, floats included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from app.worker import recent
from incidents import scoring
from incidents.config import ModelConfig
from tests.unit.test_columnar_equivalence import CONFIGS, _run, _story


def _numpy_points(ts: Any, values: Any, n_features: int) -> tuple[list[float], list[list[float]]]:
    rows = np.asarray(values, dtype=float).reshape(len(values), n_features)
    return np.asarray(ts, dtype=float).tolist(), rows.tolist()


PREDICTIVE = {**CONFIGS["readme"], "forecast": {"predictive_horizon": 6}}


@pytest.mark.python_modules
@pytest.mark.parametrize("config_name", [*sorted(CONFIGS), "predictive"])
@pytest.mark.parametrize("story", ["normal", "spikes", "level shift", "gaps", "missing values"])
def test_small_messages_score_as_through_numpy(
    config_name: str, story: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = PREDICTIVE if config_name == "predictive" else CONFIGS[config_name]
    config = ModelConfig.from_dict(raw)
    rng = np.random.default_rng(11)
    ts, rows = _story(story, 600, rng)
    sizes = rng.integers(1, scoring.SMALL_BATCH + 1, size=200).tolist()
    bounds = np.cumsum([0, *sizes])
    messages = [(ts[a:b], rows[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    messages = [(t, r) for t, r in messages if len(t)]
    fast = _run(config, messages)
    monkeypatch.setattr(scoring, "_small_points", _numpy_points)
    assert _run(config, messages) == fast


@pytest.mark.python_modules
@pytest.mark.parametrize("rows_as", ["lists", "array"])
@pytest.mark.parametrize("story", ["spikes", "missing values"])
def test_the_recent_series_of_small_messages_is_as_through_numpy(
    story: str, rows_as: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recent-series view (the dashboard's chart) appends a small batch's points one by one
    (``RecentStore._add_small``) instead of through numpy columns: the same series, to the last
    bit, for messages of one point, of a few, and of more than ``SMALL_MARKS`` mixed, with
    incidents, gaps and the oldest points dropped."""
    config = ModelConfig.from_dict(CONFIGS["readme"])
    rng = np.random.default_rng(5)
    ts, rows = _story(story, 400, rng)
    sizes = [1] * 60 + rng.integers(1, 2 * recent.SMALL_MARKS, size=60).tolist()
    bounds = np.cumsum([0, *sizes]).clip(max=400)
    outcomes, state, shared = [], None, None
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if a == b:
            continue
        values = rows[a:b] if rows_as == "array" else rows[a:b].tolist()
        out = scoring.score_batch(
            config, "host-1", state, ts[a:b].tolist(), values, entity_state=shared
        )
        state, shared = out.state, out.entity_state or shared
        outcomes.append(out)

    def chart() -> tuple[Any, ...]:
        store = recent.RecentStore(points=50)
        charts = []
        for out in outcomes:
            store.add("m", "host-1", out)
            charts.append(orjson.dumps(store.series("m", "host-1")))
        series = store._series[("m", "host-1")]
        columns = (series.ts, series.score, series.threshold, series.values)
        columns += (series.center, series.spread)
        return (
            *(c.tobytes() for c in columns),
            bytes(series.flags),
            series.incidents,
            charts,
        )

    fast = chart()
    monkeypatch.setattr(recent, "SMALL_MARKS", 0)  # every batch through the numpy columns
    assert chart() == fast
    assert any(out.events for out in outcomes)  # incidents opened: their ids are in the chart
