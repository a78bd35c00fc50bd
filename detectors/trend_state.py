"""A trend tracker's stored state read back: the packed floats unpacked, each field checked
(see :meth:`detectors.trend.TrendTracker.to_state`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors._checks import require_finite, state_field
from detectors._packed import optional, unpack_floats
from detectors.base import DetectorError

# in the floats of the packed state: the line's weight, mean time and time spread, the last time
# and the EW sum and weight of the intervals (the same for every feature of a model's points)
_SHARED = frozenset((0, 1, 3, 6, 7, 8))


def _non_negative(name: str, value: object) -> float:
    number = require_finite(name, value)
    if number < 0.0:
        raise DetectorError(f"{name} must be >= 0, got {number!r}")
    return number


def _unpacked(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """A packed state (``n`` and ``f``) in the unpacked form; an unpacked one as it is."""
    if "f" not in state:
        return state
    f = unpack_floats("trend state f", state["f"], 15)
    return {
        "line": [state_field(state, "n", "trend"), *f[:6]],
        "last_ts": optional(f[6]),
        "interval": f[7:9],
        "error": f[9:11],
        "cusum": f[11:13],
        "since": f[13:15],
        "changes": state.get("changes", []),
    }


def _pair(state: Mapping[str, Any], key: str, non_negative: bool) -> list[float]:
    values = state_field(state, key, "trend")
    if not isinstance(values, list) or len(values) != 2:
        raise DetectorError(f"trend state {key} must be a list of 2 numbers, got {values!r}")
    check = _non_negative if non_negative else require_finite
    return [check(f"trend state {key}[{i}]", v) for i, v in enumerate(values)]
