"""A numeric key's stored state outside the scoring step: its format, whether a stored state fits
a configuration, learning points into it as normal (feedback), and its forecast (the series view).

:func:`incidents.scoring.score_batch` writes and reads this state; these functions read it, or
change only what they say, without scoring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from detectors import DetectorError, ModelScorer
from incidents.config import ModelConfig
from incidents.insights import Insights

__all__ = ["STATE_FORMAT", "compatible", "forecast_report", "learn_as_normal"]

STATE_FORMAT = 3


def compatible(config: ModelConfig, state: Mapping[str, Any] | None, n_features: int) -> bool:
    """Whether ``state`` is a key's state of this model version with ``n_features`` values a point."""
    return (
        state is not None
        and state.get("format") == STATE_FORMAT
        and state.get("version") == config.model_version
        and state.get("n_features") == n_features
    )


def learn_as_normal(
    config: ModelConfig,
    state: Mapping[str, Any] | None,
    rows: np.ndarray,
    *,
    count: bool,
    forget_flags: bool = False,
    ts: np.ndarray | None = None,
) -> tuple[dict[str, Any], bool]:
    """The key's state after its detector and threshold learned ``rows`` (one per point, NaN
    for a gap) as normal points, with :meth:`ModelScorer.learn_normal`, and whether the stored
    state was dropped (another model version, or an incompatible one: learning starts afresh,
    as :func:`incidents.scoring.score_batch` would). Nothing else moves: suppression, quality
    counters and insights (the trend and forecast follow the stream) are kept as they are, except that
    ``forget_flags`` empties the persistence window of suppression (after a false-positive
    verdict on an incident: the flags it remembers are those of the incident's points).
    ``count`` adds the rows to the key's points (points that arrived, rather than points seen
    before). ``ts``: the rows' times, for a declared seasonality's offsets.

    Examples
    --------
    >>> from incidents.scoring import score_batch
    >>> cfg = ModelConfig("m", "1", "zscore", {"threshold": 3.0}, warmup=5)
    >>> out = score_batch(cfg, "host-1", None, [0, 1, 2, 3, 4], [[9.0], [11.0], [9.0], [11.0], [10.0]])
    >>> score_batch(cfg, "host-1", out.state, [5.0], [[20.0]], learn=False).points[0].is_anomaly
    True
    >>> state, reset = learn_as_normal(cfg, out.state, np.array([[20.0]]), count=False)
    >>> score_batch(cfg, "host-1", state, [5.0], [[20.0]], learn=False).points[0].is_anomaly, reset
    (False, False)
    >>> state["points"], state["insights"] == out.state["insights"]
    (5, True)
    """
    rows = np.asarray(rows, dtype=float)
    n_features = int(rows.shape[1])
    spec = config.spec(n_features)
    previous: Mapping[str, Any] = {}
    scorer: ModelScorer | None = None
    if compatible(config, state, n_features):
        assert state is not None
        try:
            scorer = ModelScorer(spec, state.get("model"))
            previous = state
        except DetectorError:  # same version, but the parameters changed its state's shape
            scorer = None
    if scorer is None:
        scorer = ModelScorer(spec)
        previous = {"insights": Insights(config.forecast, n_features).to_state()}
    scorer.learn_normal(rows, ts)
    learned = {
        **previous,
        "format": STATE_FORMAT,
        "version": config.model_version,
        "n_features": n_features,
        "model": scorer.to_state(),
        "points": int(previous.get("points", 0)) + (len(rows) if count else 0),
    }
    if forget_flags:
        learned.pop("suppress", None)
    return learned, state is not None and previous is not state


def forecast_report(
    config: ModelConfig,
    state: Mapping[str, Any] | None,
    horizon: int,
    *,
    names: Sequence[str] | None = None,
    step_seconds: float | None = None,
    last_ts: float | None = None,
) -> dict[str, Any] | None:
    """Each feature's trend and a ``horizon``-step forecast from a key's stored state, scoring
    nothing and changing nothing (as ``score_batch(..., horizon=...)`` reports them); None when
    ``state`` is not a usable state of this model version.

    Examples
    --------
    >>> from incidents.scoring import score_batch
    >>> cfg = ModelConfig("m", "1", "zscore", {"threshold": 3.0}, features=["cpu"])
    >>> out = score_batch(cfg, "host-1", None, [10.0 * i for i in range(40)],
    ...                   [[50.0 + i] for i in range(40)])
    >>> report = forecast_report(cfg, out.state, 3, step_seconds=10.0, last_ts=390.0)
    >>> [feature["feature"] for feature in report["features"]]
    ['cpu']
    >>> [(p["step"], p["ts"], round(p["mean"])) for p in report["features"][0]["forecast"]]
    [(1, 400.0, 90), (2, 410.0, 91), (3, 420.0, 92)]
    >>> forecast_report(cfg, None, 3) is None
    True
    """
    n_features = state.get("n_features") if state is not None else None
    if not isinstance(n_features, int) or not compatible(config, state, n_features):
        return None
    assert state is not None
    try:
        scorer = ModelScorer(config.spec(n_features), state.get("model"))
        insights = Insights(config.forecast, n_features, state.get("insights"))
    except DetectorError:
        return None
    return insights.report(
        list(names) if names else config.names_for(n_features),
        horizon,
        scorer.detector.baseline(),
        scorer.threshold.get(),
        step_seconds,
        last_ts,
    )
