"""Parameter checks shared by the detectors and thresholds.

Every check raises :class:`~detectors.base.DetectorError` with a sentence that names the
parameter, so a configuration error can be shown to a user as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from detectors.base import DetectorError


def require_number(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a real number (bools are refused).

    Examples
    --------
    >>> require_number("alpha", 1)
    1.0
    >>> require_number("alpha", "x")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: alpha must be a number, got 'x'
    """
    if type(value) is float:  # the usual: as it is
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DetectorError(f"{name} must be a number, got {value!r}")
    return float(value)


def require_finite(name: str, value: object) -> float:
    """Return ``value`` as a finite float, or raise.

    Examples
    --------
    >>> require_finite("mean[0]", float("nan"))
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: mean[0] must be finite, got nan
    """
    number = require_number(name, value)
    if not math.isfinite(number):
        raise DetectorError(f"{name} must be finite, got {number!r}")
    return number


def require_positive(name: str, value: object) -> float:
    """Return ``value`` as a finite float greater than 0, or raise.

    Examples
    --------
    >>> require_positive("std[1]", 0.0)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: std[1] must be positive, got 0.0
    """
    number = require_finite(name, value)
    if number <= 0:
        raise DetectorError(f"{name} must be positive, got {number!r}")
    return number


def require_unit(name: str, value: object) -> float:
    """``value`` as a float in [0, 1]; a :class:`DetectorError` naming ``name`` otherwise.

    >>> require_unit("min_abs", 0.6)
    0.6
    >>> require_unit("min_abs", 2)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: min_abs must be in [0, 1], got 2.0
    """
    number = require_finite(name, value)
    if not 0.0 <= number <= 1.0:
        raise DetectorError(f"{name} must be in [0, 1], got {number!r}")
    return number


def require_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` if it is an int of at least ``minimum``, or raise (bools are refused).

    Examples
    --------
    >>> require_int("window", 64, 3)
    64
    >>> require_int("window", 2, 3)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: window must be an integer >= 3, got 2
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DetectorError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def require_floats(name: str, values: object, length: int | None = None) -> list[float]:
    """Return ``values`` as a list of finite floats, or raise.

    ``length``, when given, is the required number of values.

    Examples
    --------
    >>> require_floats("mean", [100, 5.5])
    [100.0, 5.5]
    >>> require_floats("mean", [1.0], length=2)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: mean must have 2 values, got 1
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise DetectorError(f"{name} must be a list of numbers, got {values!r}")
    if length is not None and len(values) != length:
        raise DetectorError(f"{name} must have {length} values, got {len(values)}")
    return [require_finite(f"{name}[{i}]", v) for i, v in enumerate(values)]


def state_field(state: Mapping[str, Any], key: str, owner: str) -> Any:
    """Return ``state[key]``, or raise a DetectorError naming the missing field.

    Examples
    --------
    >>> state_field({"n": 3}, "n", "zscore")
    3
    >>> state_field({}, "n", "zscore")
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: zscore state has no field 'n'
    """
    if not isinstance(state, Mapping) or key not in state:
        raise DetectorError(f"{owner} state has no field {key!r}")
    return state[key]


def state_ints(state: Mapping[str, Any], key: str, owner: str, length: int) -> list[int]:
    """Return ``state[key]`` as a list of ``length`` non-negative ints, or raise.

    Examples
    --------
    >>> state_ints({"count": [3, 2]}, "count", "zscore", 2)
    [3, 2]
    >>> state_ints({"count": [3]}, "count", "zscore", 2)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: zscore state count must have 2 values, got 1
    """
    values = state_field(state, key, owner)
    if not isinstance(values, list) or len(values) != length:
        got = len(values) if isinstance(values, list) else repr(values)
        raise DetectorError(f"{owner} state {key} must have {length} values, got {got}")
    return [require_int(f"{owner} state {key}[{i}]", v, 0) for i, v in enumerate(values)]


def state_floats(state: Mapping[str, Any], key: str, owner: str, length: int) -> list[float]:
    """Return ``state[key]`` as a list of ``length`` finite floats, or raise.

    Examples
    --------
    >>> state_floats({"mean": [1, 2.5]}, "mean", "ewma", 2)
    [1.0, 2.5]
    """
    return require_floats(f"{owner} state {key}", state_field(state, key, owner), length)


def finite_or_none(value: float) -> float | None:
    """``value``, or None where it is not finite (JSON has no NaN or infinities).

    Examples
    --------
    >>> finite_or_none(1.5), finite_or_none(float("nan")), finite_or_none(float("inf"))
    (1.5, None, None)
    """
    return value if math.isfinite(value) else None
