"""A declared seasonality for a detector that owns its learning (``adaptive``).

The detector steps on residuals: each point less the offset of a
:class:`detectors.seasonality.SeasonalProfile` at its time, so a weekly cycle (weekends lower)
is scored as residuals from its binned profile, and the detector's own machinery (its daily
profile, tail, change points) runs on them. The profile learns each feature's value; once it
is in use, not one the detector flagged (a spike at a weekend does not teach its bin; before,
the flags are mostly the cycle's own, which the profile must learn). When the declared profile
switches on (once a full period was seen), the detector is moved to the residuals: its levels
at its fast center plus its own daily offset less the profile's offset at that time, its daily
offsets from 0 again (the weekly profile holds the daily shape), so the switch is no change
point.

The block path walks the profile's visits (consecutive points of one bin): within a visit the
offsets depend on no point of it (:mod:`detectors.seasonality`, *Visits.*), so each visit is one
compiled walk of the detector (:meth:`detectors.base.Detector.step_block`) and the same floats as
a point at a time. The profile learns a visit by its sums, added in order from 0 as a point at a
time adds them (``np.add.accumulate``; ``SeasonalProfile.learn`` of a block sums pairwise, which
is not the same float), and the block's first visit, which may go on with one of the block
before, point by point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from detectors.adaptive_step import time_of_day
from detectors.base import BlockSteps, Detector, Step
from detectors.seasonality import SeasonalProfile


def season_step(
    profile: SeasonalProfile,
    detector: Detector,
    x: Sequence[float],
    ts: float,
    threshold: float,
    learn: bool,
) -> Step:
    """The detector's step on ``x`` less the profile's offsets at ``ts`` (learning the profile
    with ``learn``); the step's centers are the values' (the offsets added back)."""
    values = detector._values(x)
    if learn:
        _open(profile, detector, ts)
    offsets = profile.offsets(ts, values)[0].tolist()
    residuals = [v - o for v, o in zip(values, offsets, strict=True)]
    step = detector.step(residuals, ts, threshold, learn)
    if learn:
        kept = values
        if profile.active:
            kept = [math.nan if f else v for v, f in zip(values, step.flagged, strict=True)]
        profile.learn(ts, kept)
    step.baseline = [(c + o, s) for (c, s), o in zip(step.baseline, offsets, strict=True)]
    return step


def season_walk(
    profile: SeasonalProfile,
    detector: Detector,
    rows: np.ndarray,
    ts: np.ndarray,
    threshold: float,
) -> BlockSteps:
    """:func:`season_step` with learning on each of ``rows`` in order, one walk of the detector
    per visit of the profile: the same floats, flags and change points."""
    m, _ = rows.shape
    fine = np.floor(ts / profile.visit_width)
    starts = np.concatenate([[0], np.flatnonzero(fine[1:] != fine[:-1]) + 1]).tolist()
    parts: list[BlockSteps] = []
    changes: dict[int, tuple[tuple[int, float, float], ...]] = {}
    for s, e in zip(starts, [*starts[1:], m], strict=True):
        _open(profile, detector, float(ts[s]))
        part, times = rows[s:e], ts[s:e]
        offsets = profile.offsets(times, part)
        steps = detector.step_block(part - offsets, times, threshold)
        kept = np.where(steps.flagged, np.nan, part) if profile.active else part
        if s == 0:  # it may go on with a visit of the block before: learned point by point
            for t, row in zip(times.tolist(), kept.tolist(), strict=True):
                profile.learn(t, row)
        else:  # a new visit: its sums from 0 in order, as point by point
            finite = np.isfinite(kept)
            summed = np.vstack([np.zeros((1, len(kept[0]))), np.where(finite, kept, 0.0)])
            total = np.add.accumulate(summed, axis=0)[-1].tolist()
            profile.learn_sums(float(times[0]), total, finite.sum(axis=0).astype(float).tolist())
        steps.centers = steps.centers + offsets
        parts.append(steps)
        changes.update({s + k: change for k, change in steps.changes.items()})
    return BlockSteps(
        np.concatenate([p.feature_scores for p in parts]),
        np.concatenate([p.centers for p in parts]),
        np.concatenate([p.spreads for p in parts]),
        np.concatenate([p.flagged for p in parts]),
        np.concatenate([p.learned for p in parts]),
        changes,
    )


def _open(profile: SeasonalProfile, detector: Detector, ts: float) -> None:
    """Before a point at ``ts`` is scored: a profile that may still switch on folds the visit
    the point ends (learning nothing of it), and if that switched it on, the detector moves to
    the residuals."""
    if not profile.may_switch_on:
        return
    profile.learn(ts, [math.nan] * profile.n_features)
    if profile.active:
        shift = profile.offsets(ts, [math.nan] * profile.n_features)[0].tolist()
        _recentre(detector, ts, shift)


def _recentre(detector: Detector, ts: float, shift: list[float]) -> None:
    """The adaptive detector moved to the residuals: its levels at its fast center (the last
    few points' level, which follows a change the slow level lags) plus its own daily offset at
    ``ts`` less ``shift`` (the profile's), and its daily offsets 0 (learned again, from the
    residuals)."""
    _, k = time_of_day(ts)
    for f, o in zip(getattr(detector, "_features", ()), shift, strict=False):
        own = f.offsets[k] if f.seasonal and f.seen >> k & 1 else 0.0
        now = f.fast + own - o  # the last few points' level, less the new offset
        f.level = f.fast = f.plain = now
        if f.back_left > 0:  # a return to the level before is still possible: it moves too
            f.back_level += own - o
            f.back_plain -= o
        f.offsets = [0.0] * len(f.offsets)
