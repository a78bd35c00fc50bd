"""How the adaptive detector scores one point of a feature and learns it.

:class:`FeatureStep` holds the per-point work of :class:`detectors.adaptive.Adaptive` (its
expected value, spread, score, flag, change points and what the point teaches); see
:mod:`detectors.adaptive` for the method.
"""

from __future__ import annotations

import math
from typing import Any, Final

from detectors._value_bands import familiarity, visit
from detectors.adaptive_state import _DAY, _NAN, BINS, _Feature, f32

try:  # mypyc's runtime library (with mypy): native reads and writes of doubles when compiled
    from librt.strings import BytesWriter as BytesWriter
    from librt.strings import read_f64_le, write_f64_le
except ImportError:  # pragma: no cover - an install without mypy runs the Python modules
    from detectors._f64 import BytesWriter as BytesWriter  # type: ignore[assignment]
    from detectors._f64 import read_f64_le, write_f64_le  # type: ignore[assignment]

_HALF_HOUR: Final = _DAY / BINS

#: The least score of the point whose sustained sum first crosses ``sustain_sum``, times the
#: threshold: the run is reported once, at its confirmation, above the scores of single noisy
#: points near the threshold and below the persistence bypass (2x), so it changes no alert. On
#: NAB dev's *tune* half any factor from 1.25 to 1.9 gives the same continuous score
#: (docs/QUALITY.md).
CONFIRMED: Final = 1.5
#: The recommended suppression's bypass (``bypass_factor``) and the lifecycle's recovery bar
#: (``recover_ratio``), times the threshold: a familiar level's score is cut only between them.
BYPASS: Final = 2.0
RECOVER: Final = 0.8
#: When the daily profile comes into use, the variance of the residuals from it while it was
#: still being learned (day 1: offsets set from one point, then converging) counts as this many
#: points only, so the spread comes down to the learned profile's within hours, not days. On the
#: behaviour scenarios and NAB dev's *tune* half 100 and 300 give the same scenarios; 100 the
#: better NAB figure (docs/QUALITY.md).
RELEARN_POINTS: Final = 100.0
#: The event time (seconds; points at the mean interval) after a re-baseline in which a return
#: to the baseline before it takes that baseline back (a level that moved for a while and came
#: back).
RETURN_TIME: Final = 21600.0
#: The detector's parameters a step reads (:class:`FeatureStep` takes them at construction).
STEP_PARAMS = (
    "alpha", "var_alpha", "fast_alpha", "min_z", "change_decay", "change_count", "drift_sigmas",
    "drift_points", "season_alpha", "season_days", "range_floor", "rel_floor", "peak_factor",
    "peak_days", "tail_interval", "sustain_level", "sustain_sum", "sustain_decay", "short_alpha",
    "var_ratio", "var_points", "repeat_level", "repeat_points", "novel_bins", "novel_levels",
    "familiar_factor",
)  # fmt: skip
#: What :meth:`FeatureStep._step_params` gives: 25 floats, a tuple of fixed length, which the
#: compiled module keeps unboxed (a step unpacks it at no cost).
_Params = tuple[
    float, float, float, float, float, float, float, float, float, float, float, float, float,
    float, float, float, float, float, float, float, float, float, float, float, float,
]  # fmt: skip


def time_of_day(ts: float) -> tuple[float, int]:
    """``(clock, k)``: ``ts % _DAY`` and its half hour ``int(clock // _HALF_HOUR)``, the same
    numbers without the ``fmod`` a float ``%`` and ``//`` each make: for ``0 < ts < 2**52``
    every step below is exact (the day's start and the half hours' are integers a float holds,
    and a quotient rounded up to the next integer is taken back), elsewhere the operators.

    >>> time_of_day(1_700_000_000.0), time_of_day(86399.99999999999), time_of_day(-60.0)
    ((80000.0, 44), (86399.99999999999, 47), (86340.0, 47))
    """
    if 0.0 < ts < 4503599627370496.0:
        clock = ts - float(int(ts / _DAY)) * _DAY
        if clock < 0.0:
            clock += _DAY
        k = int(clock / _HALF_HOUR)
        if k * _HALF_HOUR > clock:
            k -= 1
        return clock, k
    clock = ts % _DAY
    return clock, int(clock // _HALF_HOUR)


class FeatureStep:
    """The per-point scoring and learning of :class:`detectors.adaptive.Adaptive`, over the
    parameters it was built with (``params``: the detector, or anything with its parameters
    as attributes; they are fixed at construction)."""

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
    novel_levels: int
    familiar_factor: float
    _params: _Params  # what :meth:`_step_params` gave at construction
    # what :meth:`point` found of its point, besides its score
    center: float
    spread: float
    flag: bool
    moved: bool
    moved_from: float
    moved_to: float
    # the last ``dt`` :meth:`_budget_shift` took the log of, and its shift (the same ``dt`` a
    # point, once the sampling has settled: the log is a Python call in the compiled module)
    _shift_dt: float
    _shift: float

    def __init__(self, params: Any) -> None:
        for name in STEP_PARAMS:
            setattr(self, name, getattr(params, name))
        self._params = self._step_params()
        self.center = self.spread = self.moved_from = self.moved_to = _NAN
        self.flag = self.moved = False
        self._shift_dt = self._shift = _NAN

    def _step_params(self) -> _Params:
        """The parameters a step reads, in one tuple."""
        return (
            self.alpha, self.var_alpha, self.fast_alpha, self.min_z, self.change_decay,
            self.change_count, self.drift_sigmas, self.drift_points, self.season_alpha,
            self.season_days * _DAY, self.range_floor, self.rel_floor, self.peak_factor,
            self.tail_interval, self.sustain_level, self.sustain_sum, self.sustain_decay,
            0.6 * self.sustain_sum, self.short_alpha, self.var_ratio, self.var_points,
            self.repeat_level, self.repeat_points, self.novel_bins, self.novel_levels,
        )  # fmt: skip

    def score_learn(
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
        """Score feature ``i``'s value ``v`` (not NaN; ``f`` has a level) at ``ts`` and learn
        it: its reported signed score, ``(center, spread)`` and flag appended to the lists, and
        a change point ``(i, before, after)`` if it made one."""
        scores.append(self.point(f, v, 0.0 if ts is None else ts, ts is not None, threshold))
        baseline.append((self.center, self.spread))
        flagged.append(self.flag)
        return (i, self.moved_from, self.moved_to) if self.moved else None

    def walk(
        self,
        f: _Feature,
        values: bytes,
        times: bytes | None,
        threshold: float,
        out: BytesWriter,
        flagged: list[int],
        changes: list[tuple[int, float, float]],
    ) -> None:
        """:meth:`score_learn` (or the first value's start, or a missing value's baseline) on
        each of a feature's ``values`` in order, at ``times`` (None: no time), with the state
        kept in ``f`` from one to the next: per value its reported signed score, center and
        spread written to ``out`` (three floats a value), ``k`` appended to ``flagged`` when
        value ``k`` is flagged, and a change point ``(k, before, after)`` at value ``k`` to
        ``changes``. NaN is a missing value. The values, times and results are little-endian
        float64 bytes: the compiled module reads and writes them as C doubles, with no Python
        float made a value."""
        timed = times is not None
        ts = 0.0
        for k in range(len(values) // 8):
            v = read_f64_le(values, 8 * k)
            if times is not None:
                ts = read_f64_le(times, 8 * k)
            if math.isnan(v):
                write_f64_le(out, _NAN)
                base = self.baseline_of(f)
                if base is None:
                    write_f64_le(out, _NAN)
                    write_f64_le(out, _NAN)
                else:
                    write_f64_le(out, base[0])
                    write_f64_le(out, base[1])
            elif math.isnan(f.plain):
                write_f64_le(out, 0.0)
                write_f64_le(out, _NAN)
                write_f64_le(out, _NAN)
                self.start(f, v, ts, timed)
            else:
                write_f64_le(out, self.point(f, v, ts, timed, threshold))
                write_f64_le(out, self.center)
                write_f64_le(out, self.spread)
                if self.flag:
                    flagged.append(k)
                if self.moved:
                    changes.append((k, self.moved_from, self.moved_to))

    def start(self, f: _Feature, v: float, ts: float, timed: bool) -> None:
        """Learn a feature's first value ``v`` (at ``ts`` when ``timed``)."""
        f.level = f.plain = f.prev = f.high = f.low = v
        f.first = ts if timed else 0.0
        f.last = ts if timed else _NAN
        f.n = 1.0
        self.familiar(f, v)

    def baseline_of(self, f: _Feature) -> tuple[float, float] | None:
        """The feature's ``(center, spread)`` now, None before its first value."""
        if math.isnan(f.plain):
            return None
        prediction = f.plain
        sd = math.sqrt(f.var) if f.w_var > 0 else 0.0
        least = f.step if f.step < math.inf else self.rel_floor * abs(prediction)
        return prediction, max(sd, least, self.range_floor * (f.high - f.low), 1e-9)

    def point(self, f: _Feature, v: float, ts: float, timed: bool, threshold: float) -> float:
        """Score ``v`` (not NaN; ``f`` has a level) at ``ts`` (when ``timed``) against
        ``threshold`` and learn it: the reported signed score; the center and spread it was
        scored against, its flag and the change point it made (``moved``, from ``moved_from``
        to ``moved_to``) are left in this object's fields."""
        # The hot path of the recommended model: parameters and fields read once into locals,
        # ``max``/``min`` of two written as the comparisons they make (``max(a, b)`` is ``b if
        # b > a else a``), so every result is the same float as the plain expressions'.
        (
            alpha, b, fast_alpha, min_z, change_decay, change_count, drift_sigmas, drift_points,
            season_alpha, season_span, range_floor, rel_floor, peak_factor, tail_interval,
            sustain_level, sustain_sum, sustain_decay, most_excess, short_alpha, var_ratio,
            var_points, repeat_level, repeat_points, novel_bins, novel_levels,
        ) = self._params  # fmt: skip
        # the expected value: the level (the profile's when it is in use) and the offset
        if not timed:
            clock = 0.0
            k = 0
            on = False
        else:
            clock, k = time_of_day(ts)
            on = ts - f.first >= season_span and f.err_season < (0.5 * f.err_plain)
        if on and not f.seasonal:  # the spread and peaks were of no profile: start again
            f.peaks = [0.0] * BINS
            f.today = [0.0] * BINS
            f.var = f.err_season
            if f.w_var > RELEARN_POINTS * b:
                f.w_var = RELEARN_POINTS * b
        f.seasonal = 1.0 if on else 0.0
        seen = f.seen
        offsets = f.offsets
        has = seen >> k & 1
        # the profile read as steps (its half hour's offset) or as lines between the half
        # hours' centers (``lin``: the offsets of the two nearest centers, ``k`` and ``k2``,
        # weighted by how near each is, ``u`` for ``k2``), whichever has predicted better (a
        # smooth cycle: lines; a step at a given hour: steps)
        old = offsets[k] if has else 0.0
        lin = old
        k2 = k
        u = 0.0
        if has and timed:
            at = clock / _HALF_HOUR - k - 0.5  # -0.5 .. 0.5 from the center of bin k
            # the next or previous bin round the day ((k + 1) % BINS, (k - 1) % BINS)
            k2 = (k + 1 if k < BINS - 1 else 0) if at >= 0.0 else (k - 1 if k else BINS - 1)
            if seen >> k2 & 1:
                u = abs(at)
                lin = (1.0 - u) * old + u * offsets[k2]
            else:
                k2 = k
        offset = 0.0
        if on:
            offset = lin if f.err_lin < f.err_season else old
        level = f.level
        plain = f.plain
        prediction = (level if on else plain) + offset
        # the spread
        var = f.var
        w_var = f.w_var
        sd = math.sqrt(var) if w_var > 0 else 0.0
        least = f.step
        if not least < math.inf:
            least = rel_floor * abs(prediction)
        high = f.high
        low = f.low
        s = sd
        if least > s:
            s = least
        ranged = range_floor * (high - low)
        if ranged > s:
            s = ranged
        if s < 1e-9:
            s = 1e-9
        if timed and peak_factor > 0:
            day = float(math.floor(ts / _DAY))
            if day != f.day and not math.isnan(f.day):
                self._fade_peaks(f, day)
            f.day = day
            peaks = f.peaks  # this half hour's and its neighbours': a daily peak's time wanders
            peak = peaks[k - 1]
            if peaks[k] > peak:
                peak = peaks[k]
            after = peaks[k + 1 if k < BINS - 1 else 0]  # peaks[(k + 1) % BINS]
            if after > peak:
                peak = after
            peak *= peak_factor
            if peak > s:
                s = peak
        # a return to the baseline before the last re-baseline (a level that moved for a
        # while and came back) takes that baseline back at once: the return is not a new change.
        # The baseline left takes its place, so a lone noise point near the old level (heavy
        # tails) is undone by the next point at the level that stayed.
        back_moved = False
        if f.back_left > 0:
            f.back_left -= 1.0
            back = (f.back_level if on else f.back_plain) + offset
            near = abs(v - back)
            far = abs(v - prediction)
            if near < 0.5 * far and far > f.cal.z_at(threshold) * s:
                back_moved = True
                self.moved_from = prediction
                self.moved_to = back
                left_level = level
                left_plain = plain
                level = f.back_level
                plain = f.back_plain
                f.back_level = left_level
                f.back_plain = left_plain
                prediction = back
                f.fast = v - offset
        # the score
        r = v - prediction
        abs_r = abs(r)
        z = abs_r / s
        fast = f.fast
        if not math.isnan(fast):
            z = math.sqrt(z * abs(v - fast - offset) / s)
        cal = f.cal
        score = cal.score(z) if z >= min_z else 0.0
        dt = f.dt
        if dt < tail_interval:  # per interval: the chance that one of its points is as far
            score -= self._budget_shift(f)
            if not score > 0.0:
                score = 0.0
        flag = score > threshold
        recent = f.lastflag
        if flag and score < 2.0 * threshold and recent * r < 0:
            # against the direction of a flag of the last 3 points: noise, not a persistent
            # move (a pair of opposite flags would pass the 2-of-3 persistence)
            flag = False
        if flag:
            f.lastflag = 1.0 if r > 0 else -1.0
        elif recent != 0.0:  # (0 stays 0)
            f.lastflag = 0.0 if abs(recent) >= 3 else recent + math.copysign(1.0, recent)
        sus = f.sus
        if sustain_sum > 0:
            # a run of moderately far points from the slow baseline alerts though none crosses
            # the threshold: each adds its score above ``sustain_level``, at most 0.6 of the sum
            # needed, so one point alone never does
            excess = score - sustain_level
            if most_excess < excess:
                excess = most_excess
            before = sus
            sus = sus * sustain_decay + excess
            if not sus > 0.0:
                sus = 0.0
            f.sus = sus
            if sus > sustain_sum and not flag:
                flag = True
                if before <= sustain_sum:  # the point that confirms the run reports it
                    confirmed = CONFIRMED * threshold
                    if confirmed > score:
                        score = confirmed
        # a run is reported once, at its peak: 0 when it repeats a run's peak
        reported = score
        if repeat_points:
            left = f.left
            if left > 0 and score <= f.peak:
                reported = 0.0
            if score > repeat_level:
                if left > 0:
                    if score > f.peak:
                        f.peak = score
                else:
                    f.peak = score
                f.left = float(repeat_points)
            elif left > 0:
                f.left = left - 1
        # a level seen before: visit the value's band of the feature's range (see _familiar);
        # how familiar it is: at how many of the resolutions its band's block was visited
        familiar = 0.0
        if novel_bins:
            lo, hi = f.vlo, f.vhi
            if lo < hi and lo <= v <= hi:  # inside the range (most points): visit's last step
                band = int((v - lo) / ((hi - lo) / novel_bins))
                if band >= novel_bins:  # v at the top
                    band = int(novel_bins) - 1
                bits = int(f.bands)
                if bits >> band & 1:
                    familiar = novel_levels
                else:
                    f.bands = float(bits | 1 << band)
                    if novel_levels > 1:
                        familiar = float(familiarity(bits, band, int(novel_levels)))
            else:
                familiar = float(self.familiar(f, v))
        if familiar and reported > RECOVER * threshold:  # else it is kept whole
            reported = self._familiar_score(f, reported, threshold, familiar)
        self.center = prediction
        self.spread = s
        self.flag = flag
        n = f.n
        if n >= 10:
            cal.learn(z)
        n += 1
        f.n = n
        moved = False
        # change point: a decaying count of flags, the run's mean and variance
        flags = f.flags * change_decay + (1.0 if flag else 0.0)
        if flag:
            f.run_n += 1
            w = 1.0 / f.run_n
            if w < 1.0 / 32:
                w = 1.0 / 32
            d = v - f.run_mean
            f.run_mean += w * d
            f.run_m2 = (1.0 - w) * (f.run_m2 + w * d * d)
        elif flags < 0.5:
            f.run_n = f.run_mean = f.run_m2 = 0.0
        if flag and flags >= change_count and f.run_n >= 2:
            self._arm_return(f, level, plain)
            new = f.run_mean
            shift = new - prediction
            plain = plain + shift if on else new
            level = new - offset if on else level + shift
            if f.run_m2 > f.var:
                f.var = f.run_m2
            flags = f.run_n = f.run_mean = f.run_m2 = 0.0
            kept = v
            moved = True
            self.moved_from = prediction
            self.moved_to = new
        elif flag:
            limit = cal.z_at(threshold + self._budget_shift(f)) * s
            if abs_r < limit:
                limit = abs_r
            kept = prediction + (limit if r > 0 else -limit)
        else:
            kept = v
        f.flags = flags
        # what the point teaches: the levels, the profile's offset, the spread
        e_plain = kept - plain
        e_season = kept - level - old
        err_plain = f.err_plain + b * (e_plain * e_plain - f.err_plain)
        err_season = f.err_season + b * (e_season * e_season - f.err_season)
        f.err_plain = err_plain
        f.err_season = err_season
        e_lin = kept - level - lin
        f.err_lin += b * (e_lin * e_lin - f.err_lin)
        w_level = f.w_level * (1.0 - alpha) + alpha
        f.w_level = w_level
        w = alpha / w_level
        plain += w * (kept - plain)
        level += w * (kept - old - level)
        if timed:
            d = kept - level
            last = f.last
            if not math.isnan(last):
                w = 1.0 / (n - 1.0)  # the mean of the first 100 gaps, then fading
                if not w > 0.01:
                    w = 0.01
                gap = ts - last
                if gap < 0.0:
                    gap = 0.0
                if gap > _HALF_HOUR:
                    gap = _HALF_HOUR
                dt += w * (gap - dt)
                f.dt = dt
            f.last = ts
            if not has:
                offsets[k] = f32(d)
            elif not (flag and on):  # a flagged point (a bump) does not teach a profile in use
                # a bin learns as fast per day whatever the sampling (season_alpha at 5 minutes)
                slow = dt / 300.0
                if not slow < 1.0:
                    slow = 1.0
                # the residual from the half hour's offset teaches it and the nearest other
                # center's by nearness (a triangular kernel: the offsets are a smoothed profile)
                learned = season_alpha * slow * (d - old)
                offsets[k] = f32(old + (1.0 - u) * learned)
                if u > 0.0:
                    offsets[k2] = f32(offsets[k2] + u * learned)
            f.seen = seen | 1 << k
            on = ts - f.first >= season_span and err_season < (0.5 * err_plain)
            if peak_factor > 0:
                today = f.today
                if abs_r > today[k]:
                    today[k] = f32(abs_r)
        # the step from the previous value: a sustained run of at least ``var_points`` whose
        # steps are ``var_ratio`` times the long-run ones (clipped, so one jump of a level shift
        # does not count) re-baselines the variance by the ratio of their mean squares: a
        # spread that rose and stays
        prev = f.prev
        d = abs(v - prev)
        long = f.long
        if math.isnan(long):
            f.long, f.sq_long = d, d * d
        else:
            if sus > 0 or flags >= 0.5:  # the run goes on through a quiet point or two
                sn = f.sn + 1
                f.sn = sn
                w = 1.0 / sn
                clipped = d  # min(d, 5 * long)
                if 5.0 * long < d:
                    clipped = 5.0 * long
                f.short += w * (clipped - f.short)
                f.sq += w * (d * d - f.sq)
            else:
                f.sn = f.short = f.sq = 0.0
            if not flag:
                f.long = long + short_alpha * (d - long)
                f.sq_long += short_alpha * (d * d - f.sq_long)
            if var_ratio > 0 and f.sn >= var_points and sus > sustain_sum:
                self._rebaseline_variance(f)
        if math.isnan(fast):
            fast = v - offset
        else:  # a flagged point moves it as far as the threshold only, as it does the level
            fast += fast_alpha * (kept - offset - fast)
        f.fast = fast
        if drift_points > 0:
            base = level if on else plain
            drift = f.drift + 1 if abs(fast - base) > drift_sigmas * s else 0.0
            if drift >= drift_points:
                self._arm_return(f, level, plain)
                level += fast - base
                plain += fast - base
                drift = 0.0
                if not moved:
                    moved = True
                    self.moved_from = base
                    self.moved_to = fast
            f.drift = drift
        f.level = level
        f.plain = plain
        w_var = w_var * (1.0 - b) + b
        f.w_var = w_var
        var = f.var  # as the change point and the variance re-baseline left it
        rr = kept - prediction
        f.var = var + (b / w_var) * (rr * rr - var)
        if v != prev:
            gap = abs(v - prev)
            if gap < f.step:
                f.step = gap
        f.prev = v
        high += (v - high) / 32
        f.high = high if high > v else v
        low += (v - low) / 32
        f.low = low if low < v else v
        self.moved = moved or back_moved
        return math.copysign(reported, r)

    def _arm_return(self, f: _Feature, level: float, plain: float) -> None:
        """Keep the baseline a re-baseline leaves, for :data:`RETURN_TIME` at the mean
        interval between points (taken as at least a second)."""
        if not f.back_left > 0:  # a second move on the way keeps the first one's baseline
            f.back_level = level
            f.back_plain = plain
        # points at one time (a mean interval of 0): at most RETURN_TIME points
        f.back_left = float(math.ceil(RETURN_TIME / max(f.dt, 1.0)))

    def _fade_peaks(self, f: _Feature, day: float) -> None:
        """A new day: the peaks of earlier days decay (by ``e`` in ``peak_days``) and take
        those of the day that ended."""
        fade = math.exp(-(day - f.day) / self.peak_days)
        f.peaks = [f32(max(p, q) * fade) for p, q in zip(f.peaks, f.today, strict=True)]
        f.today = [0.0] * BINS

    def familiar(self, f: _Feature, v: float) -> int:
        """Visit ``v``'s band of the feature's range: how familiar its level was (0: new;
        ``novel_levels``: a value was in its band before)."""
        n = self.novel_bins
        if n == 0:
            return 0
        f.vlo, f.vhi, bits, seen = visit(f.vlo, f.vhi, int(f.bands), v, n, self.novel_levels)
        f.bands = float(bits)
        return seen

    def _familiar_score(self, f: _Feature, score: float, threshold: float, grade: float) -> float:
        """The score a point at a familiar level reports: ``familiar_factor`` times ``score`` when
        its band was visited (``grade`` ``novel_levels``), proportionately less cut when only a
        coarser block of bands was (a smaller ``grade``), but only where no alert depends on it: not below :data:`RECOVER` times the threshold
        (an open incident's bar) and not at all at or above the bypass (:data:`BYPASS` times
        the threshold, ``log10(dt / tail_interval)`` lower for keys sampled less often, as
        :mod:`detectors.suppression` lowers it), so the flags, bypasses and incidents are
        what they were and only the ranking of the scores changes."""
        lower = 0.0
        if 0 < self.tail_interval < f.dt:
            lower = math.log10(f.dt / self.tail_interval)
        if score >= max(threshold, BYPASS * threshold - lower):
            return score
        factor = self.familiar_factor
        if grade < self.novel_levels:
            factor = 1.0 - (1.0 - factor) * grade / self.novel_levels
        return max(factor * score, min(score, RECOVER * threshold))

    def _budget_shift(self, f: _Feature) -> float:
        """What a point of ``f`` scores less for being one of ``tail_interval / dt``."""
        dt = f.dt
        if dt >= self.tail_interval:
            return 0.0
        if dt != self._shift_dt:
            self._shift_dt = dt
            self._shift = math.log10(self.tail_interval / max(dt, 1e-3))
        return self._shift

    def _rebaseline_variance(self, f: _Feature) -> None:
        """The variance takes the ratio of a sustained run's mean square step to the long-run
        one, when the run's steps are ``var_ratio`` times the long-run ones."""
        if f.short > self.var_ratio * f.long > 0:
            f.var *= f.sq / f.sq_long
            f.long, f.sq_long = f.short, f.sq
            f.sus = f.sn = f.short = f.sq = 0.0
            f.flags = f.run_n = f.run_mean = f.run_m2 = 0.0
            f.back_left = 0.0  # a spread that changed: no level to go back to
