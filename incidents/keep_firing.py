"""Keep-firing's runs: how many of the last scored points of each of an open incident's models were
elevated (at or above the recovery bar), stored in the incident's ``runs``.

An incident keeps going on the second and each further elevated point in a row of one model
(:data:`KEEP_RUN`), not on a lone one; the lifecycle (:mod:`incidents.lifecycle`) moves the runs
point by point (:func:`run_of`, :func:`set_run`) or over a run of points at once
(:func:`elevated_runs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

KEEP_RUN = 2  # elevated points in a row of one model that keep an incident going


def run_of(incident: Mapping[str, Any], model_id: str) -> int:
    """How many of the last scored points of ``model_id`` were elevated, up to :data:`KEEP_RUN`
    (``runs``, absent from incidents stored before it: none)."""
    runs = incident.get("runs")
    if runs is None:
        return 0
    if type(runs) is dict:  # as stored and as set: checked first, faster than the ABC's check
        return int(runs.get(model_id, 0))
    return int(runs.get(model_id, 0)) if isinstance(runs, Mapping) else 0


def set_run(incident: dict[str, Any], model_id: str, run: int) -> None:
    """Store a run; runs of 0 are left out (and ``runs`` without any)."""
    runs = incident.get("runs")
    if runs is None:
        runs = {}
    else:  # a plain dict as stored and as set: checked first, faster than the ABC's check
        runs = dict(runs) if type(runs) is dict or isinstance(runs, Mapping) else {}
    if run:
        runs[model_id] = run
    else:
        runs.pop(model_id, None)
    if runs:
        incident["runs"] = runs
    else:
        incident.pop("runs", None)


def elevated_runs(finite: np.ndarray, elevated: np.ndarray, before: int) -> np.ndarray:
    """The run of elevated points (up to :data:`KEEP_RUN`) after each point: one more after an
    elevated point, 0 after a scored one below the bar, unchanged after one without a score.

    >>> finite = np.array([True, True, False, True, True, True])
    >>> elevated = np.array([True, True, False, True, False, True])
    >>> elevated_runs(finite, elevated, 0).tolist(), elevated_runs(finite, elevated, 1).tolist()
    ([1, 2, 2, 2, 0, 1], [2, 2, 2, 2, 0, 1])
    """
    n = len(finite)
    counted = np.cumsum(elevated)
    reset = finite & ~elevated
    last_reset = np.maximum.accumulate(np.where(reset, np.arange(n), -1))
    since = np.where(
        last_reset >= 0, counted - counted[np.maximum(last_reset, 0)], counted + before
    )
    return np.minimum(since, KEEP_RUN)
