"""How the adaptive detector scores one point of a feature and learns it.

:class:`FeatureStep` holds the per-point work of :class:`detectors.adaptive.Adaptive` (its
expected value, spread, score, flag, change points and what the point teaches); see
:mod:`detectors.adaptive` for the method.
"""

from __future__ import annotations

import math
from array import array

from detectors._value_bands import visit
from detectors.adaptive_state import _DAY, BINS, _Feature

#: The least score of the point whose sustained sum first crosses ``sustain_sum``, times the
#: threshold: the run is reported once, at its confirmation, above the scores of single noisy
#: points near the threshold and below the persistence bypass (2x), so it changes no alert. On
#: NAB dev's *tune* half any factor from 1.25 to 1.9 gives the same continuous score
#: (docs/QUALITY.md).
CONFIRMED = 1.5
#: The recommended suppression's bypass (``bypass_factor``) and the lifecycle's recovery bar
#: (``recover_ratio``), times the threshold: a familiar level's score is cut only between them.
BYPASS = 2.0
RECOVER = 0.8


class FeatureStep:
    """The per-point scoring and learning of :class:`detectors.adaptive.Adaptive`, over the
    parameters it sets."""

    alpha: float
    var_alpha: float
    fast_alpha: float
    min_z: float
    change_decay: float
    change_count: float
    drift_sigmas: float
    drift_points: int
    season_alpha: float
    season_days: float
    range_floor: float
    rel_floor: float
    peak_factor: float
    peak_days: float
    tail_interval: float
    sustain_level: float
    sustain_sum: float
    sustain_decay: float
    short_alpha: float
    var_ratio: float
    var_points: int
    repeat_level: float
    repeat_points: int
    novel_bins: int
    familiar_factor: float

    def _expected(self, f: _Feature, ts: float | None) -> tuple[float, float, int, bool]:
        """``(prediction, offset, bin, season on)`` of feature ``f`` at ``ts``."""
        k = int(ts % _DAY // (_DAY / BINS)) if ts is not None else 0
        on = f.season_on(ts, self.season_days)
        if on and not f.seasonal:  # the spread and peaks were of no profile: start again
            f.peaks = array("f", bytes(4 * BINS))
            f.today = array("f", bytes(4 * BINS))
            f.var = f.err_season
        f.seasonal = 1.0 if on else 0.0
        offset = f.offsets[k] if on and f.seen >> k & 1 else 0.0
        return (f.level if on else f.plain) + offset, offset, k, on

    def _spread(self, f: _Feature, prediction: float, k: int, ts: float | None) -> float:
        sd = math.sqrt(f.var) if f.w_var > 0 else 0.0
        least = f.step if f.step < math.inf else self.rel_floor * abs(prediction)
        s = max(sd, least, self.range_floor * (f.high - f.low), 1e-9)
        if ts is not None and self.peak_factor > 0:
            day = math.floor(ts / _DAY)
            if not math.isnan(f.day) and day != f.day:
                fade = math.exp(-(day - f.day) / self.peak_days)
                f.peaks = array(
                    "f", [max(p, q) * fade for p, q in zip(f.peaks, f.today, strict=True)]
                )
                f.today = array("f", bytes(4 * BINS))
            f.day = day
            peaks = f.peaks  # this half hour's and its neighbours': a daily peak's time wanders
            s = max(s, self.peak_factor * max(peaks[k - 1], peaks[k], peaks[(k + 1) % BINS]))
        return s

    def _score_learn(
        self,
        i: int,
        f: _Feature,
        v: float,
        ts: float | None,
        threshold: float,
        scores: list[float],
        baseline: list[tuple[float, float]],
        flagged: list[bool],
    ) -> tuple[int, float, float] | None:
        prediction, offset, k, on = self._expected(f, ts)
        s = self._spread(f, prediction, k, ts)
        r = v - prediction
        z = abs(r) / s
        if not math.isnan(f.fast):
            z = math.sqrt(z * abs(v - f.fast - offset) / s)
        score = f.cal.score(z) if z >= self.min_z else 0.0
        if f.dt < self.tail_interval:  # per interval: the chance that one of its points is as far
            score = max(0.0, score - self._budget_shift(f))
        flag = score > threshold
        recent = f.lastflag
        if flag and score < 2.0 * threshold and recent * r < 0:
            # against the direction of a flag of the last 3 points: noise, not a persistent
            # move (a pair of opposite flags would pass the 2-of-3 persistence)
            flag = False
        if flag:
            f.lastflag = 1.0 if r > 0 else -1.0
        else:
            f.lastflag = 0.0 if abs(recent) >= 3 else recent + math.copysign(recent != 0, recent)
        if self.sustain_sum > 0:
            # a run of moderately far points from the slow baseline alerts though none crosses
            # the threshold: each adds its score above ``sustain_level``, at most 0.6 of the sum
            # needed, so one point alone never does
            excess = min(score - self.sustain_level, 0.6 * self.sustain_sum)
            before = f.sus
            f.sus = max(0.0, f.sus * self.sustain_decay + excess)
            if f.sus > self.sustain_sum and not flag:
                flag = True
                if before <= self.sustain_sum:  # the point that confirms the run reports it
                    score = max(score, CONFIRMED * threshold)
        reported = self._reported(f, score)
        if self._familiar(f, v) and reported > RECOVER * threshold:  # else it is kept whole
            reported = self._familiar_score(f, reported, threshold)
        scores.append(math.copysign(reported, r))
        baseline.append((prediction, s))
        flagged.append(flag)
        if f.n >= 10:
            f.cal.learn(z)
        f.n += 1
        moved = None
        # change point: a decaying count of flags, the run's mean and variance
        f.flags = f.flags * self.change_decay + (1.0 if flag else 0.0)
        if flag:
            f.run_n += 1
            w = max(1.0 / f.run_n, 1.0 / 32)
            d = v - f.run_mean
            f.run_mean += w * d
            f.run_m2 = (1.0 - w) * (f.run_m2 + w * d * d)
        elif f.flags < 0.5:
            f.run_n = f.run_mean = f.run_m2 = 0.0
        if flag and f.flags >= self.change_count and f.run_n >= 2:
            new = f.run_mean
            shift = new - prediction
            f.plain = f.plain + shift if on else new
            f.level = new - offset if on else f.level + shift
            f.var = max(f.var, f.run_m2)
            f.flags = f.run_n = f.run_mean = f.run_m2 = 0.0
            kept = v
            moved = (i, prediction, new)
        elif flag:
            limit = min(f.cal.z_at(threshold + self._budget_shift(f)) * s, abs(r))
            kept = prediction + (limit if r > 0 else -limit)
        else:
            kept = v
        has = f.seen >> k & 1
        old = f.offsets[k] if has else 0.0
        e_plain = kept - f.plain
        e_season = kept - f.level - old
        b = self.var_alpha
        f.err_plain += b * (e_plain * e_plain - f.err_plain)
        f.err_season += b * (e_season * e_season - f.err_season)
        f.w_level = f.w_level * (1.0 - self.alpha) + self.alpha
        w = self.alpha / f.w_level
        f.plain += w * (kept - f.plain)
        f.level += w * (kept - old - f.level)
        if ts is not None:
            d = kept - f.level
            if not math.isnan(f.last):
                w = max(0.01, 1.0 / (f.n - 1.0))  # the mean of the first 100 gaps, then fading
                f.dt += w * (min(max(ts - f.last, 0.0), _DAY / BINS) - f.dt)
            f.last = ts
            # a bin learns as fast per day whatever the sampling (season_alpha at 5 minutes)
            rate = self.season_alpha * min(1.0, f.dt / 300.0)
            if not has:
                f.offsets[k] = d
            elif not (flag and on):  # a flagged point (a bump) does not teach a profile in use
                f.offsets[k] = old + rate * (d - old)
            f.seen |= 1 << k
            on = f.season_on(ts, self.season_days)
            if self.peak_factor > 0:
                f.today[k] = max(f.today[k], abs(r))
        self._spread_change(f, abs(v - f.prev), flag)
        if math.isnan(f.fast):
            f.fast = v - offset
        else:  # a flagged point moves it as far as the threshold only, as it does the level
            f.fast += self.fast_alpha * (kept - offset - f.fast)
        if self.drift_points > 0:
            base = f.level if on else f.plain
            f.drift = f.drift + 1 if abs(f.fast - base) > self.drift_sigmas * s else 0.0
            if f.drift >= self.drift_points:
                f.level += f.fast - base
                f.plain += f.fast - base
                f.drift = 0.0
                if moved is None:
                    moved = (i, base, f.fast)
        f.w_var = f.w_var * (1.0 - b) + b
        rr = kept - prediction
        f.var += (b / f.w_var) * (rr * rr - f.var)
        if v != f.prev:
            f.step = min(f.step, abs(v - f.prev))
        f.prev = v
        f.high = max(v, f.high + (v - f.high) / 32)
        f.low = min(v, f.low + (v - f.low) / 32)
        return moved

    def _reported(self, f: _Feature, score: float) -> float:
        """The score a point reports: 0 when it repeats a run's peak (see ``repeat_points``)."""
        if self.repeat_points == 0:
            return score
        repeat = f.left > 0 and score <= f.peak
        if score > self.repeat_level:
            f.peak = max(f.peak, score) if f.left > 0 else score
            f.left = float(self.repeat_points)
        elif f.left > 0:
            f.left -= 1
        return 0.0 if repeat else score

    def _familiar(self, f: _Feature, v: float) -> bool:
        """Visit ``v``'s band of the feature's range: whether a value was there before."""
        n = self.novel_bins
        if n == 0:
            return False
        lo, hi = f.vlo, f.vhi
        if lo < hi and lo <= v <= hi:  # inside the range (most points): visit's last step
            k = min(int((v - lo) / ((hi - lo) / n)), n - 1)
            bits = int(f.bands)
            if bits >> k & 1:
                return True
            f.bands = float(bits | 1 << k)
            return False
        f.vlo, f.vhi, bits, seen = visit(lo, hi, int(f.bands), v, n)
        f.bands = float(bits)
        return seen

    def _familiar_score(self, f: _Feature, score: float, threshold: float) -> float:
        """The score a point at a familiar level reports: ``familiar_factor`` times ``score``,
        but only where no alert depends on it: not below :data:`RECOVER` times the threshold
        (an open incident's bar) and not at all at or above the bypass (:data:`BYPASS` times
        the threshold, ``log10(dt / tail_interval)`` lower for keys sampled less often, as
        :mod:`detectors.suppression` lowers it), so the flags, bypasses and incidents are
        what they were and only the ranking of the scores changes."""
        lower = 0.0
        if 0 < self.tail_interval < f.dt:
            lower = math.log10(f.dt / self.tail_interval)
        if score >= max(threshold, BYPASS * threshold - lower):
            return score
        return max(self.familiar_factor * score, min(score, RECOVER * threshold))

    def _budget_shift(self, f: _Feature) -> float:
        """What a point of ``f`` scores less for being one of ``tail_interval / dt``."""
        if f.dt >= self.tail_interval:
            return 0.0
        return math.log10(self.tail_interval / max(f.dt, 1e-3))

    def _spread_change(self, f: _Feature, d: float, flag: bool) -> None:
        """Learn the step ``d`` from the previous value. A sustained run of at least
        ``var_points`` whose steps are ``var_ratio`` times the long-run ones (clipped, so one
        jump of a level shift does not count) re-baselines the variance by the ratio of their
        mean squares: a spread that rose and stays."""
        if math.isnan(f.long):
            f.long, f.sq_long = d, d * d
            return
        if f.sus > 0 or f.flags >= 0.5:  # the run goes on through a quiet point or two
            f.sn += 1
            w = 1.0 / f.sn
            f.short += w * (min(d, 5.0 * f.long) - f.short)
            f.sq += w * (d * d - f.sq)
        else:
            f.sn = f.short = f.sq = 0.0
        if not flag:
            a = self.short_alpha
            f.long += a * (d - f.long)
            f.sq_long += a * (d * d - f.sq_long)
        if (
            self.var_ratio > 0
            and f.sn >= self.var_points
            and f.sus > self.sustain_sum
            and f.short > self.var_ratio * f.long > 0
        ):
            f.var *= f.sq / f.sq_long
            f.long, f.sq_long = f.short, f.sq
            f.sus = f.sn = f.short = f.sq = 0.0
            f.flags = f.run_n = f.run_mean = f.run_m2 = 0.0
