"""Which bands of its own range a series has visited: is a value at a level seen before?

The range from the least to the largest value seen is cut into ``n`` equal bands, and a bit per
band says whether a value fell in it. When a value widens the range, each visited band marks
the new bands it overlaps (a band is never forgotten, only coarsened). A value in a band not
visited before is *novel*: the contextual detectors of NAB (CAD OSE) score how new the recent
values' contexts are; this is the simplest such context, the value's level alone.

The same bits are read at coarser resolutions too (:func:`familiarity`): a pair of neighbouring
bands is one band of ``n / 2``, four are one of ``n / 4``; a value is the more familiar the finer
the resolution at which its band was visited, so a band edge no longer decides alone.
"""

from __future__ import annotations

import math


def familiarity(bits: int, k: int, levels: int) -> int:
    """At how many of the resolutions ``n``, ``n / 2``, ... (``levels`` of them) band ``k``'s
    block of ``bits`` was visited: 0 (a new level) to ``levels`` (band ``k`` itself).

    Examples
    --------
    >>> familiarity(0b0010, 1, 3), familiarity(0b0001, 1, 3), familiarity(0b1000, 1, 3)
    (3, 2, 1)
    >>> familiarity(0b10000, 1, 3), familiarity(0b0001, 1, 1)
    (0, 0)
    """
    grade = 0
    width = 1
    for _ in range(levels):
        if bits >> (k - k % width) & ((1 << width) - 1):
            grade += 1
        width *= 2
    return grade


def visit(
    lo: float, hi: float, bits: int, v: float, n: int, levels: int = 1
) -> tuple[float, float, int, int]:
    """Visit ``v`` with the range ``[lo, hi]`` and band bits ``bits`` (``lo`` NaN: nothing seen):
    the new ``(lo, hi, bits)`` and how familiar ``v``'s band was (:func:`familiarity` over
    ``levels`` resolutions; with one, 1 when the band was visited before, else 0).

    Examples
    --------
    >>> lo, hi, bits, seen = visit(math.nan, math.nan, 0, 10.0, 4)
    >>> seen
    0
    >>> lo, hi, bits, seen = visit(lo, hi, bits, 20.0, 4)  # a new top: bands of 2.5 from 10
    >>> (lo, hi, bin(bits), seen)
    (10.0, 20.0, '0b1001', 0)
    >>> visit(lo, hi, bits, 19.0, 4)[3], visit(lo, hi, bits, 14.0, 4)[3]
    (1, 0)
    >>> visit(lo, hi, bits, 14.0, 4, levels=2)[3]  # band 1: its pair (bands 0 and 1) was seen
    1
    >>> visit(lo, hi, bits, 30.0, 4)[:3]  # the range doubles: 10's band and 20's are kept
    (10.0, 30.0, 11)
    """
    if math.isnan(lo):
        return v, v, 1, 0
    if v < lo or v > hi:
        new_lo, new_hi = min(lo, v), max(hi, v)
        width = (new_hi - new_lo) / n
        moved = 0
        if hi > lo:
            old = (hi - lo) / n
            for j in range(n):
                if bits >> j & 1:
                    first = int((lo + j * old - new_lo) / width)
                    last = max(first, math.ceil((lo + (j + 1) * old - new_lo) / width) - 1)
                    for t in range(max(first, 0), min(last, n - 1) + 1):
                        moved |= 1 << t
        else:  # one value seen so far: its band in the new range
            moved = 1 << min(int((lo - new_lo) / width), n - 1)
        lo, hi, bits = new_lo, new_hi, moved
    k = min(int((v - lo) / ((hi - lo) / n)), n - 1) if hi > lo else 0
    return lo, hi, bits | 1 << k, familiarity(bits, k, levels)
