"""The ``"auto"`` period of a seasonal profile: at the end of each day, the daily and weekly
candidates are judged, and a cycle found is switched on (see :mod:`detectors.seasonality`, *Auto.*)."""

from __future__ import annotations

import math

from detectors._cycle import Cycle, round6
from detectors._seasonal_sums import _means
from detectors.seasonal_config import DAY, WEEK, WEEKLY_BINS

WEEKDAYS = 7
# auto: when the candidates are judged, in days since the first point
DAILY_FROM, DAILY_UNTIL, WEEKLY_FROM, WEEKLY_UNTIL = 3.0, 7.0, 21.0, 28.0
# a cycle this clear (share of the variance explained out of sample) switches on after 2 days
DAILY_EARLY, EARLY_EXPLAINED = 2.0, 0.8

_UNDECIDED, _DAILY, _WEEKLY, _NONE, _DECLARED = 0, 1, 2, 3, 4


class AutoPeriod:
    """The end-of-day judging of :class:`detectors.seasonality.SeasonalProfile`'s candidates."""

    n_features: int
    memory: int
    min_explained: float
    _stage: int
    _main: Cycle | None
    _weekdays: Cycle | None
    _shapes: Cycle | None
    _start: float | None
    _visit: int | None
    _day: int | None
    _day_sums: list[list[float]]

    def _end_day(self, day: int) -> None:
        """The day before ``day`` is over: fold its mean, then judge the candidates (auto)."""
        weekdays = self._weekdays
        assert weekdays is not None and self._day is not None and self._start is not None
        weekdays.fold(self._day, _means(self._day_sums[0], self._day_sums[1]))
        if self._shapes is not None:
            self._shapes.fold(self._day, _means(self._day_sums[2], self._day_sums[3]))
        self._day = None
        elapsed = (day * DAY - self._start) / DAY
        main = self._main
        if self._stage == _UNDECIDED and main is not None and elapsed >= DAILY_EARLY:
            bar = self.min_explained if elapsed >= DAILY_FROM else EARLY_EXPLAINED
            on = [share >= bar for share in main.explained()]
            if any(on):
                self._stage = _DAILY
                main.tests = None
                main.switch_off(on)
            elif elapsed >= DAILY_UNTIL:
                self._main = None
                self._visit = None
        if elapsed >= WEEKLY_FROM:
            on = [share >= self.min_explained for share in weekdays.explained()]
            shaped = [False] * self.n_features
            if self._stage == _DAILY and self._shapes is not None and self._main is not None:
                shares = zip(self._shapes.explained(), self._main.on, strict=True)
                shaped = [share >= self.min_explained and kept for share, kept in shares]
            if any(on) or any(shaped):
                self._weekly(day, on, shaped)
            elif elapsed >= WEEKLY_UNTIL:
                self._weekdays = self._shapes = None
                if self._stage == _UNDECIDED:
                    self._stage = _NONE
                    self._main = None
                    self._visit = None

    def _weekly(self, day: int, weekly_on: list[bool], shaped: list[bool]) -> None:
        """Switch to a 168-bin weekly profile: the day-of-week offsets plus the daily profile
        per hour (when it is on), one visit's worth, so it scores at once; for a feature
        whose daily profile misses on some weekdays (``shaped``), those days start empty."""
        weekdays, daily, shapes = self._weekdays, self._main, self._shapes
        assert weekdays is not None
        cycle = Cycle(self.n_features, WEEK, WEEKLY_BINS, self.memory, tests=False)
        on = weekly_on[:]
        for f in range(self.n_features):
            hourly = [0.0] * 24
            if self._stage == _DAILY and daily is not None and daily.on[f]:
                on[f] = True
                hourly = [
                    ((daily.offset(f, 2 * h) or 0.0) + (daily.offset(f, 2 * h + 1) or 0.0)) / 2
                    for h in range(24)
                ]
            if not on[f]:
                continue
            by_day = [(weekdays.offset(f, d) or 0.0) if weekly_on[f] else 0.0 for d in range(7)]
            known = [True] * 7
            if shaped[f] and shapes is not None:
                misses = [shapes.level[f] + (shapes.offset(f, d) or 0.0) for d in range(7)]
                typical = sorted(misses)[3]
                known = [miss <= 2 * typical for miss in misses]
            row = [by_day[d] + hourly[h] if known[d] else 0.0 for d in range(7) for h in range(24)]
            big = max(map(abs, row))
            cycle.m[f] = [round6(x, big) for x in row]
            cycle.n[f] = [1 if known[d] else 0 for d in range(7) for _ in range(24)]
            level = weekdays.level[f]
            if math.isnan(level) and daily is not None:
                level = daily.level[f]
            cycle.level[f] = level
        now = day * 24
        cycle.first, cycle.last = now - WEEKLY_BINS, now - 1
        cycle.switch_off(on)
        self._main = cycle
        self._visit = None
        self._weekdays = self._shapes = None
        self._stage = _WEEKLY
