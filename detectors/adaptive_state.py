"""The adaptive detector's state of one feature, how it is packed, and what a step found.

See :mod:`detectors.adaptive` for what each field is for.
"""

from __future__ import annotations

import binascii
import math
from array import array
from typing import Final

from detectors._packed import unpack_bytes
from detectors._tail import TailCalibration

# Final: the compiled modules read them as constants, not from the module's dict
BINS: Final = 48  # half hours of a day
_DAY: Final = 86400.0
_NAN: Final = math.nan
# The scalars of a feature's state, packed in this order.
_SCALARS = (
    "level", "plain", "w_level", "var", "w_var", "err_plain", "err_season", "step", "prev",
    "high", "low", "flags", "run_n", "run_mean", "run_m2", "fast", "drift", "day", "first",
    "n", "seasonal", "last", "dt", "sus", "sn", "short", "long", "sq", "sq_long", "lastflag",
    "peak", "left", "vlo", "vhi", "bands", "err_lin", "back_level", "back_plain", "back_left",
    "base", "beta",
)  # fmt: skip
# Rows written before the sustained path and the variance re-baseline: the scalars without them.
_NEW_SCALARS = ("sus", "sn", "short", "long", "sq", "sq_long")
_RETURN = ("back_level", "back_plain", "back_left")
_BANDS = ("vlo", "vhi", "bands", "err_lin") + _RETURN  # and what came after the value bands
_SCALARS_V1 = tuple(
    name for name in _SCALARS if name not in _NEW_SCALARS + ("lastflag", "peak", "left") + _BANDS
)
# Rows written before the direction of the last flag was kept.
_SCALARS_V2 = tuple(name for name in _SCALARS if name not in ("lastflag", "peak", "left") + _BANDS)
# Rows written before a run was reported once.
_SCALARS_V3 = tuple(name for name in _SCALARS if name not in ("peak", "left") + _BANDS)
# Rows written before the value bands were kept.
_SCALARS_V4 = tuple(name for name in _SCALARS if name not in _BANDS)
# Rows written before the error of the interpolated profile was kept.
_SCALARS_V5 = tuple(name for name in _SCALARS if name not in ("err_lin",) + _RETURN)
# Rows written before the baseline before a re-baseline was kept.
_SCALARS_V6 = tuple(name for name in _SCALARS if name not in _RETURN)


#: Bounds of the magnitudes :func:`f32` rounds by arithmetic (2**-100 and 2**100): the rounding
#: is to a normal float32 and the split cannot overflow.
_F32_LEAST: Final = 7.888609052210118e-31
_F32_MOST: Final = 1.2676506002282294e30


def f32(x: float) -> float:
    """``x`` rounded to float32, as ``array("f")`` stores it (to nearest, ties to even), as a
    float: the profile's offsets and the peaks are float32 (as stored, so a key restored from
    its row answers as the live one), kept in lists of floats the compiled step reads unboxed.
    Veltkamp's split (Dekker, "A floating-point technique for extending the available
    precision", 1971): ``c - (c - x)`` with ``c = (2**29 + 1) * x`` is ``x`` rounded to its upper
    53 - 29 = 24 bits; outside a float32's normal range, and for 0, NaN and infinities, the array.

    >>> f32(0.1), array("f", [0.1])[0], f32(16777217.0), f32(-3e38 * 10), f32(1e-40) > 0
    (0.10000000149011612, 0.10000000149011612, 16777216.0, -inf, True)
    """
    if _F32_LEAST < abs(x) < _F32_MOST:
        c = 536870913.0 * x
        return c - (c - x)
    return float(array("f", [x])[0])


def _packed_len(count: int) -> int:
    """Length of the base64 text of ``count`` packed floats."""
    return 4 * ((8 * count + 2) // 3)


def _pack32(values: array) -> str:  # type: ignore[type-arg]
    return binascii.b2a_base64(values.tobytes(), newline=False).decode("ascii")


def _unpack32(
    text: object, owner: str = "peaks", count: int = 2 * BINS, trimmed: bool = False
) -> array:  # type: ignore[type-arg]
    """The ``count`` float32 of ``text`` (``trimmed``: up to them, zeros after the last)."""
    if trimmed and isinstance(text, str) and len(text) < _packed32_len(count):
        for size in range(count - 1, -1, -1):  # the length says how many were kept
            if len(text) == _packed32_len(size):
                values = array("f", unpack_bytes(f"adaptive state {owner}", text, 4 * size, ""))
                return values + array("f", bytes(4 * (count - size)))
    return array("f", unpack_bytes(f"adaptive state {owner}", text, 4 * count, f"{count} float32"))


def _packed32_len(count: int) -> int:
    """Length of the base64 text of ``count`` packed float32."""
    return 4 * ((4 * count + 2) // 3)


def _trimmed(values: array) -> array:  # type: ignore[type-arg]
    """``values`` without the zeros at the end (all zeros: none).

    >>> _trimmed(array("f", [1.0, 0.0, -0.0, 0.0])), _unpack32(_pack32(array("f", [2.0])), count=3, trimmed=True)
    (array('f', [1.0, 0.0, -0.0]), array('f', [2.0, 0.0, 0.0]))
    """
    last = len(values)
    while last and values[last - 1] == 0.0 and math.copysign(1.0, values[last - 1]) > 0.0:
        last -= 1  # a 0.0, not a -0.0
    return values[:last]


class _Feature:
    """The state of one feature (see the module docstring)."""

    def __init__(self, cal: TailCalibration) -> None:
        self.cal = cal
        self.level = _NAN  # slow level of the residuals from the profile
        self.plain = _NAN  # slow level of the values (no profile)
        self.w_level = 0.0
        self.var = 0.0
        self.w_var = 0.0
        self.err_plain = 0.0
        self.err_season = 0.0
        self.step = math.inf
        self.prev = _NAN
        self.high = _NAN
        self.low = _NAN
        self.flags = 0.0
        self.run_n = 0.0
        self.run_mean = 0.0
        self.run_m2 = 0.0
        self.fast = _NAN
        self.drift = 0.0
        self.day = _NAN
        self.first = _NAN
        self.n = 0.0
        self.seasonal = 0.0  # 1.0 while the profile is used
        self.last = _NAN  # time of the last point
        self.dt = 300.0  # mean time between points (up to a bin; the mean of the first 100)
        self.sus = 0.0  # sustained-deviation sum (score units above ``sustain_level``)
        # Steps between consecutive values: over the current sustained run (``sn`` points; it
        # goes on while the sum is positive or a flag is recent) the mean size clipped at
        # ``5 * long`` and the mean square; long-run (unflagged points) the mean size and square.
        self.sn = 0.0
        self.short = 0.0
        self.long = _NAN
        self.sq = 0.0
        self.sq_long = _NAN
        # The last flag by the threshold: +-k, k points ago, up or down (0: none in the last 3).
        self.lastflag = 0.0
        # A run's highest score so far, and the points left in which a point no higher reports
        # 0 (a score above ``repeat_level`` sets ``repeat_points``).
        self.peak = 0.0
        self.left = 0.0
        # The least and largest value seen, and bit j: a value seen in the j-th of the
        # ``novel_bins`` equal bands between them (kept as a float, exact up to 53 bands).
        self.vlo = _NAN
        self.vhi = _NAN
        self.bands = 0.0
        self.err_lin = 0.0  # as err_season, of the profile read as lines between half hours
        # The baseline before the last re-baseline (its level and plain level), and
        # the points left in which a return to it is taken back at once (0: none).
        self.back_level = 0.0
        self.back_plain = 0.0
        self.back_left = 0.0
        # float32 values (:func:`f32`), as stored: a key restored from its row answers as the
        # live one
        self.offsets = [0.0] * BINS
        self.seen = 0  # bit k: bin k has an offset
        # Per bin the largest deviation of earlier days (decayed) and of today, float32 values.
        self.peaks = [0.0] * BINS
        self.today = [0.0] * BINS

    def season_on(self, ts: float | None, days: float) -> bool:
        return (
            ts is not None
            and ts - self.first >= days * _DAY
            and self.err_season < (0.5 * self.err_plain)
        )
