"""Per-key calibration of a deviation ``z >= 0`` into ``-log10`` of its tail probability.

The body of the distribution is a histogram of ``log10 z`` (40 bins over ``[1e-2, 1e4]``); the
tail above its ``quantile`` (at least ``min_base``) is exponential, a generalised Pareto of
shape 0 as in peaks over threshold (Siffer et al., "Anomaly detection in streams with extreme
value theory", KDD 2017), with a mean excess ``beta`` learned online. A score of ``k`` means
one deviation in ``10**k`` is this large; with ``gaussian_cap`` the tail is never lighter than a
standard normal's (``P(|Z| > z)``), so a calibration learned on too few large values cannot
make an ordinary 2-sigma point rare.
"""

from __future__ import annotations

import math
import types
from statistics import NormalDist
from typing import Final

from detectors.base import DetectorError

# Final: the compiled module reads them as constants, not from the module's dict
_BINS: Final = 40
_LO: Final = -2.0
_HI: Final = 4.0
_WIDTH: Final = (_HI - _LO) / _BINS
_LN10: Final = math.log(10.0)
_NORMAL = NormalDist()
#: The mean excess a tail starts from, times its base (then learned from the excesses): the
#: least the tail allows (``beta`` is never under 0.1 times the base), the nearest to a normal
#: deviation's own (0.25 above a base of 3.55, 0.07 times it). 0.2 before: a lone 5.5-sigma
#: point scored 3.2, under the persistence bypass (4); docs/QUALITY.md has the figures.
_BETA_PRIOR: Final = 0.1
# log10 read from a static by the compiled module, not from math's dict a call (no native form)
_log10: Final = math.log10
# fdlibm's log10 (e_log10.c, glibc's): log10(2**y * m) = ivln10 * ln(m) + y * log10(2) in two parts
_IVLN10: Final = 4.34294481903251816668e-01  # 0x3FDBCB7B1526E50E
_LOG10_2HI: Final = 3.01029995663611771306e-01  # 0x3FD34413509F6000
_LOG10_2LO: Final = 3.69423907715893078616e-13  # 0x3D59FEF311F12B36


def _split_log10(x: float) -> float:
    """``log10(x)`` as fdlibm's ``log10`` (glibc's, which Python's ``math.log10`` calls) makes it,
    for ``2**-32 <= x < 2**32`` (else ``math.log10``): ``x = 2**y * m`` with ``m`` in [1, 2),
    or in [0.5, 1) below 1 (exact halvings and doublings), and ``ivln10 * ln(m) + y * log10_2lo +
    y * log10_2hi``, with the same constants and operations in the same order, so the same
    float where ``log`` is the same: the compiled module takes ``ln`` natively, where ``log10``
    is a Python call (:data:`_SPLIT` says whether it is used).

    >>> all(_split_log10(x) == math.log10(x) for x in (1e-2, 0.3, 0.5, 1.0, 2.0, 7.0, 1e4))
    True
    """
    if not 2.3283064365386963e-10 <= x < 4294967296.0:  # 2**-32, 2**32
        return _log10(x)
    # the exponent in halvings by 2**16, 2**8, ..., 2 (or doublings), exact; written out, as
    # a loop over a tuple of the scales reads a boxed float a step in the compiled module
    y = 0.0
    if x >= 2.0:
        if x >= 65536.0:
            x *= 1.52587890625e-05
            y += 16.0
        if x >= 256.0:
            x *= 0.00390625
            y += 8.0
        if x >= 16.0:
            x *= 0.0625
            y += 4.0
        if x >= 4.0:
            x *= 0.25
            y += 2.0
        if x >= 2.0:
            x *= 0.5
            y += 1.0
    elif x < 0.5:
        if x < 1.52587890625e-05:
            x *= 65536.0
            y -= 16.0
        if x < 0.00390625:
            x *= 256.0
            y -= 8.0
        if x < 0.0625:
            x *= 16.0
            y -= 4.0
        if x < 0.25:
            x *= 4.0
            y -= 2.0
        if x < 0.5:
            x *= 2.0
            y -= 1.0
    return _IVLN10 * math.log(x) + y * _LOG10_2LO + y * _LOG10_2HI


def _split_matches() -> bool:
    """Whether :func:`_split_log10` is ``math.log10`` on 4,000 values from 1e-3 to 1e4 (not so
    where the C library's ``log10`` is not fdlibm's)."""
    for j in range(4000):
        x = 10.0 ** (-3.0 + 7.0 * (j + 0.37) / 4000.0)
        if _split_log10(x) != _log10(x):
            return False
    return True


#: Whether :meth:`TailCalibration.score` takes its logs by :func:`_split_log10`: where this
#: module is compiled (a Python function call costs more than the ``log10`` it saves) and the
#: two agree.
_SPLIT: Final = not isinstance(_split_matches, types.FunctionType) and _split_matches()


def _bin(z: float) -> int:
    return min(_BINS - 1, int((math.log10(max(z, 1e-2)) - _LO) / _WIDTH))


def _learned_bin(z: float) -> int:
    """:func:`_bin` from the natural log, native in the compiled module (``log10`` is a Python
    call there), wherever ``z`` is more than a millionth of a bin from an edge: the two logs
    differ by a few ulps, so the bin is the same; nearer an edge, ``log10`` decides.

    >>> [_learned_bin(z) == _bin(z) for z in (0.0, 0.5, 1.0, _edge(7), 1e9)]
    [True, True, True, True, True]
    """
    if z < 1e-2:
        return 0
    x = (math.log(z) / _LN10 - _LO) / _WIDTH
    k = int(x)
    if 1e-6 < x - k < 1.0 - 1e-6:
        return k if k < _BINS - 1 else _BINS - 1
    return min(_BINS - 1, int((_log10(z) - _LO) / _WIDTH))


def _edge(k: int) -> float:
    return float(10.0 ** (_LO + _WIDTH * k))


# The bins' lower edges and their log10, computed once (the same values as computed per call).
_EDGES: Final = tuple(_edge(k) for k in range(_BINS + 1))
_LOG_EDGES: Final = tuple(math.log10(e) for e in _EDGES)


def gaussian_score(z: float) -> float:
    """``-log10 P(|Z| > z)`` for a standard normal ``Z``.

    Examples
    --------
    >>> round(gaussian_score(3.0), 3), round(gaussian_score(10.0), 1)
    (2.569, 22.8)
    """
    if z > 8.0:  # log of the normal tail, Mills ratio
        return (z * z / 2.0 + math.log(z * math.sqrt(2.0 * math.pi))) / _LN10 - math.log10(2.0)
    return -math.log10(max(2.0 * (1.0 - _NORMAL.cdf(z)), 1e-300))


def gaussian_z(score: float) -> float:
    """The ``z`` whose :func:`gaussian_score` is ``score`` (``score`` at most 15).

    >>> round(gaussian_z(gaussian_score(3.0)), 6)
    3.0
    """
    return _NORMAL.inv_cdf(1.0 - 10.0 ** -min(score, 15.0) / 2.0)


class TailCalibration:
    """Maps a deviation to ``-log10`` of its tail probability, learned from the deviations seen.

    Parameters
    ----------
    quantile
        Quantile of the learned deviations above which the tail is exponential, in (0, 1).
    rate
        Weight of a new excess in the mean excess ``beta``, in (0, 1].
    min_base
        Least tail base (``u``), in sigma units.
    gaussian_cap
        Whether the tail is never lighter than a standard normal's.

    Examples
    --------
    Learned on 5,000 absolute standard normal values, the base is the upper edge of the bin
    holding the 0.99 quantile (2.58), so the calibration errs on the safe side, and the mean
    excess stays at its least, 0.1 times the base (a normal's own above 3.55 is 0.25):

    >>> import numpy as np
    >>> cal = TailCalibration(0.99, 0.05, 2.0)
    >>> for z in np.abs(np.random.default_rng(0).normal(size=5000)):
    ...     cal.learn(float(z))
    >>> round(cal.base, 3), round(cal.beta, 3)
    (3.548, 0.355)
    >>> [round(cal.score(z), 2) for z in (1.0, 2.0, 3.0, 4.0)], round(cal.z_at(2.0), 3)
    ([0.5, 1.27, 2.0, 2.55], 3.548)
    >>> TailCalibration(1.0, 0.05, 2.0)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: tail_quantile must be in (0, 1), got 1.0
    """

    def __init__(
        self, quantile: float, rate: float, min_base: float, gaussian_cap: bool = False
    ) -> None:
        if not 0.0 < quantile < 1.0:
            raise DetectorError(f"tail_quantile must be in (0, 1), got {quantile}")
        if not 0.0 < rate <= 1.0:
            raise DetectorError(f"tail_rate must be in (0, 1], got {rate}")
        if not min_base >= 0.0:
            raise DetectorError(f"min_tail must be >= 0, got {min_base}")
        self.quantile = quantile
        self.rate = rate
        self.min_base = min_base
        self.gaussian_cap = gaussian_cap
        self.counts = [0] * _BINS
        self.n = 0
        self.base = math.nan
        self.beta = math.nan
        self._log_tail = math.log10(1.0 - quantile)
        self._least_share = 1.0 - quantile
        # The quantile's bin, the count up to it and the sum of the counts, for the list
        # ``_running_of`` (not state: counted again when ``counts`` is a new list, as after a
        # restore).
        self._running_of: list[int] | None = None
        self._k = _BINS - 1
        self._running = 0
        self._total = 0
        # The last ``z`` ``score`` took the log of, and its log: ``learn`` takes the same ``z``
        # next (the log is a Python call a point in the compiled module, mypyc has no log10).
        self._last_z = math.nan
        self._last_log = math.nan

    def score(self, z: float) -> float:
        """``-log10`` of the tail probability of ``z`` (0.0 before 30 deviations)."""
        if self.n < 30 or math.isnan(self.base):
            return 0.0
        if z > self.base:
            found = -self._log_tail + (z - self.base) / self.beta / _LN10
        else:
            least_z = 1e-2 if z < 1e-2 else z  # max(z, 1e-2), NaN kept
            log_z = _split_log10(least_z) if _SPLIT else _log10(least_z)
            self._last_z = z
            self._last_log = log_z
            k = int((log_z - _LO) / _WIDTH)
            if k > _BINS - 1:
                k = _BINS - 1
            inside = (log_z - _LOG_EDGES[k]) / _WIDTH
            counts = self.counts
            # sum(counts[k + 1:]) without a list a point (integers: exact): from the counts above
            # the quantile's bin that learn keeps, and the few bins between it and ``k``
            if self._running_of is counts:
                top = self._k
                higher = self._total - self._running
                for j in range(k + 1, top + 1):
                    higher += counts[j]
                for j in range(top + 1, k + 1):
                    higher -= counts[j]
            else:
                higher = 0
                for j in range(k + 1, len(counts)):
                    higher += counts[j]
            above = higher + counts[k] * (1.0 - inside)
            share = above / self.n
            least = self._least_share
            # -log10(max(share, least)); log10(least) is _log_tail
            if least > share:
                found = -self._log_tail
            else:
                found = -(_split_log10(share) if _SPLIT else _log10(share))
        if self.gaussian_cap:
            return min(found, gaussian_score(z))
        return found

    def z_at(self, score: float) -> float:
        """The least deviation in the tail that scores ``score`` (inf before a tail exists)."""
        if math.isnan(self.base):
            return math.inf
        z = self.base + self.beta * _LN10 * (score + self._log_tail)
        if self.gaussian_cap:
            z = max(z, gaussian_z(score))
        return z

    def learn(self, z: float) -> None:
        """Count ``z``; move the tail base to the quantile and the mean excess towards it."""
        counts = self.counts
        if z == self._last_z:  # _bin(z) from the log score just took (0.0 and -0.0: the same)
            j = int((self._last_log - _LO) / _WIDTH)
            if j > _BINS - 1:
                j = _BINS - 1
        else:
            j = _learned_bin(z)
        counts[j] = counts[j] + 1  # (``+=`` is a generic call in the compiled module)
        n = self.n + 1
        self.n = n
        target = self.quantile * n
        # the first bin whose running count reaches the target: a step or none from the last
        # one (its running count kept alongside, while the counts are the same list)
        if self._running_of is counts:
            k, running = self._k, self._running
            if j <= k:
                running += 1
            self._total += 1
        else:
            self._running_of = counts
            k, running = _BINS - 1, sum(counts)
            self._total = running
        while running < target and k < _BINS - 1:
            k += 1
            running += counts[k]
        base = self.base
        if running >= target:
            while k > 0 and running - counts[k] >= target:
                running -= counts[k]
                k -= 1
            base = _EDGES[k + 1]
        self._k, self._running = k, running
        if n < 30:
            self.base = base
            return
        beta = self.beta
        if math.isnan(beta):
            beta = _BETA_PRIOR * base
        if z > base:
            beta += self.rate * ((z - base) - beta)
        if self.min_base > base:  # max(base, min_base)
            base = self.min_base
        least = 0.1 * base
        self.base = base
        self.beta = least if least > beta else beta
