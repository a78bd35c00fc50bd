"""The acceptance rules of a scenario: :func:`judge` and the :class:`Verdict` it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.scenarios.series import DAY, STEP, Scenario

DETECT_WITHIN = 5  # points from a window's start to its first alert, at most
MAX_FALSE = 5  # false alert points after the first day, at most
QUIET_TAIL = 500  # the last points, where no false alert is allowed
GRACE = 60  # points after a persistent change's window whose alerts are not false


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge` found: per window the delay to its first alert within
    :data:`DETECT_WITHIN` points (None: missed), the false alert points after the first day,
    those in the last :data:`QUIET_TAIL` points, the alerts the grace excused, and the outcome."""

    name: str
    seed: int
    passed: bool
    reason: str
    windows: int
    detected: int
    delays: list[int | None]
    false_alerts: int
    false_in_tail: int
    graced: int
    alerts: int


def _points(count: int) -> str:
    return f"{count} false alert point{'' if count == 1 else 's'}"


def judge(scenario: Scenario, alerts: Sequence[bool]) -> Verdict:
    """Whether ``alerts`` (one per point, True where the point alerted) meet the rules.

    The rules, with indices counted in points of the series as given (a gap's missing
    timestamps are not points):

    - *within 5 points*: a window ``(first, last)`` is detected when a point of
      ``first .. first + 5`` alerts (the delay is the first such index minus ``first``; for a
      window shorter than 6 points the points just after it count);
    - *false alert points after the first day*: the alerting points whose time is at least a day
      after the first point's, outside every window's ``first .. max(last, first + 5)`` and, for
      a persistent change (level shift, variance rise), outside the :data:`GRACE` (60) points
      after its window, ``last + 1 .. last + 60`` (counted apart as ``graced``); at most 5;
    - *no false alert in the last 500 points*: none of those false alert points is among the
      series' last 500 points.

    It passes when every window is detected and both limits hold; ``reason`` says why not, or
    sums up the pass, in one line.

    Examples
    --------
    >>> s = Scenario("spike", 0, [60.0 * i for i in range(3000)], [0.0] * 3000, [(2000, 2000)])
    >>> alerts = [False] * 3000
    >>> judge(s, alerts).reason
    'missed the window at 2000 (no alert)'
    >>> alerts[2001] = alerts[2300] = True
    >>> v = judge(s, alerts)
    >>> v.passed, v.delays, v.false_alerts, v.reason
    (True, [1], 1, 'pass: 1/1 windows detected (delays 1), 1 false alert point')
    """
    n = len(scenario.ts)
    if len(alerts) != n:
        raise ValueError(f"alerts has {len(alerts)} values for {n} points; one per point.")
    credited = np.zeros(n, dtype=bool)
    grace = np.zeros(n, dtype=bool)
    delays: list[int | None] = []
    for first, last in scenario.windows:
        hits = [i for i in range(first, min(first + DETECT_WITHIN, n - 1) + 1) if alerts[i]]
        delays.append(hits[0] - first if hits else None)
        credited[first : max(last, first + DETECT_WITHIN) + 1] = True
        if scenario.persistent:
            grace[last + 1 : last + GRACE + 1] = True
    flagged = np.asarray(alerts, dtype=bool)
    after_day = np.asarray(scenario.ts, dtype=float) >= scenario.ts[0] + DAY * STEP
    false = flagged & after_day & ~credited & ~grace
    graced = flagged & after_day & ~credited & grace
    false_at = np.flatnonzero(false)
    tail = false_at[false_at >= n - QUIET_TAIL]
    problems = []
    for (first, _), delay in zip(scenario.windows, delays, strict=True):
        if delay is None:
            later = next((i for i in range(first, n) if alerts[i]), None)
            seen = (
                "no alert"
                if later is None
                else f"first alert {later - first} points after its start, over {DETECT_WITHIN}"
            )
            problems.append(f"missed the window at {first} ({seen})")
    if len(false_at) > MAX_FALSE:
        problems.append(
            f"{_points(len(false_at))} after the first day (at most {MAX_FALSE}; "
            f"first at {false_at[0]})"
        )
    if len(tail):
        problems.append(f"{_points(len(tail))} in the last {QUIET_TAIL} (first at {tail[0]})")
    detected = sum(d is not None for d in delays)
    if problems:
        reason = "; ".join(problems)
    else:
        shown = ", ".join(str(d) for d in delays)
        found = f"{detected}/{len(delays)} windows detected (delays {shown}), " if delays else ""
        reason = f"pass: {found}{_points(len(false_at))}"
    return Verdict(
        name=scenario.name,
        seed=scenario.seed,
        passed=not problems,
        reason=reason,
        windows=len(delays),
        detected=detected,
        delays=delays,
        false_alerts=len(false_at),
        false_in_tail=len(tail),
        graced=int(graced.sum()),
        alerts=int(flagged.sum()),
    )
