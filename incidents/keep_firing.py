"""Keep-firing's runs: how many of the last scored points of each of an open incident's models were
elevated (at or above the recovery bar), stored in the incident's ``runs``.

An incident keeps going on the second and each further elevated point in a row of one model
(:data:`KEEP_RUN`), not on a lone one; the lifecycle (:mod:`incidents.lifecycle`) moves the runs
point by point (:func:`run_of`, :func:`set_run`) or over a run of points that did not alert
(:func:`quiet_walk`, compiled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

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


def quiet_walk(
    ts: list[float],
    score: list[float],
    threshold: list[float],
    start: int,
    stop: int,
    ours: bool,
    run: int,
    last: float,
    bar: float,
    resolve_after: float,
) -> tuple[int, float, int, bool, bool, float]:
    """The points ``start`` to ``stop`` (a run of points of one model that did not alert) while
    an incident is open (compiled, see ``detectors.kernel``): ``ours`` whether the model is one of the incident's, ``run`` its
    run of elevated points before them, ``last`` the incident's last elevated time, ``bar``
    the recovery ratio. Returns how many points were taken (up to the one that resolves the
    incident), the time it resolved at (NaN: it did not), the run after them, whether it moved
    on the way, whether a point kept the incident going, and its last elevated time then.

    Examples
    --------
    The bar is 0.8 * 3 = 2.4: the elevated point at 30 alone does not keep the incident, those
    at 50 and 55 are a run, so 55 does; 115 is 60 s after it, and resolves it:

    >>> ts = [10.0, 30.0, 40.0, 50.0, 55.0, 100.0, 114.0, 115.0, 120.0]
    >>> score = [1.0, 2.5, 1.0, 2.5, 2.6, 1.0, 1.0, 1.0, 1.0]
    >>> quiet_walk(ts, score, [3.0] * 9, 0, 9, True, 1, 0.0, 0.8, 60.0)
    (8, 115.0, 0, True, True, 55.0)
    """
    used, resolved_at = stop - start, math.nan
    moved = kept = False
    for k in range(start, stop):
        t, s = ts[k], score[k]
        finite = math.isfinite(s)
        elevated = finite and s >= bar * threshold[k]
        if finite and t - last >= resolve_after:
            used, resolved_at = k + 1 - start, last + resolve_after if elevated else t
            break
        if ours and finite:
            previous = run
            run = (run + 1 if run + 1 < KEEP_RUN else KEEP_RUN) if elevated else 0
            moved = moved or run != previous
            if run >= KEEP_RUN:
                if t > last:  # max(last, t)
                    last = t
                kept = True
    return used, resolved_at, run, moved, kept, last
