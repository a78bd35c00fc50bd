"""The ``seasonality`` setting of a configuration: its one normal form
(:func:`seasonality_params`), the checks of a declared period and its bins (:func:`check_period`,
:func:`check_bins`, :func:`default_bins`) and their bounds. The profile it configures is
:class:`detectors.seasonality.SeasonalProfile`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from detectors.base import DetectorError

DAY = 86400.0
WEEK = 7 * DAY
MAX_PERIOD = 4 * WEEK
"""Longest declared period: 4 weeks (a profile learns over ``memory`` periods)."""
MAX_BINS = 336
"""Most bins a declared period may have (state: about 5.4 bytes of JSON per bin and feature)."""
MIN_BIN_SECONDS = 1.0
"""Shortest bin a declared period may have."""
DAILY_BINS, WEEKLY_BINS = 48, 168
SETTINGS = ("bins", "period")


def default_bins(period: float) -> int:
    """Bins of a declared period: 168 (hours) from a week on, else 48.

    Examples
    --------
    >>> default_bins(86400), default_bins(604800)
    (48, 168)
    """
    return WEEKLY_BINS if period >= WEEK else DAILY_BINS


def seasonality_params(value: object) -> dict[str, Any] | None:
    """A configuration's ``seasonality`` in its one normal form, or DetectorError naming the field.

    ``None`` (none), ``"auto"``, ``{"period": "auto"}`` or ``{"period": seconds, "bins": n}``
    (``bins`` optional: :func:`default_bins`).

    Examples
    --------
    >>> seasonality_params("auto"), seasonality_params({"period": 86400})
    ({'period': 'auto'}, {'period': 86400.0, 'bins': 48})
    >>> seasonality_params({"period": -5})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: seasonality.period must be a positive number of seconds or 'auto', got -5
    >>> seasonality_params({"period": 30 * 86400})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: seasonality.period must be at most 2419200 seconds (4 weeks, the longest season the profile keeps), got 2592000
    >>> seasonality_params({"period": 60, "bins": 120})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: seasonality.bins must be at most seasonality.period / 1 s: a period of 60 s holds at most 60 bins, got 120
    >>> seasonality_params({"period": 86400, "step": 60})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: unknown seasonality setting 'step'; choose from: bins, period
    """
    if value is None:
        return None
    if value == "auto":
        return {"period": "auto"}
    if not isinstance(value, Mapping):
        raise DetectorError(f"seasonality must be 'auto' or an object with a period, got {value!r}")
    for key in value:
        if key not in SETTINGS:
            raise DetectorError(
                f"unknown seasonality setting {key!r}; choose from: {', '.join(SETTINGS)}"
            )
    if "period" not in value:
        raise DetectorError("seasonality.period is required: a number of seconds or 'auto'")
    period, bins = check_period(value["period"]), value.get("bins")
    if period == "auto":
        if bins is not None:
            raise DetectorError(
                "seasonality.bins applies to a declared period; 'auto' uses 48 a day, 168 a week"
            )
        return {"period": "auto"}
    assert isinstance(period, float)
    return {"period": period, "bins": check_bins(bins, period)}


def check_period(value: object) -> float | str:
    """``value`` as a declared period in seconds, or ``"auto"``; DetectorError naming
    ``seasonality.period`` otherwise.

    Examples
    --------
    >>> check_period(3600), check_period("auto")
    (3600.0, 'auto')
    """
    if value == "auto":
        return "auto"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise DetectorError(
            f"seasonality.period must be a positive number of seconds or 'auto', got {value!r}"
        )
    if value > MAX_PERIOD:
        raise DetectorError(
            f"seasonality.period must be at most {MAX_PERIOD:.0f} seconds (4 weeks, the "
            f"longest season the profile keeps), got {value!r}"
        )
    return float(value)


def check_bins(value: object, period: float) -> int:
    """``value`` as the bin count of a declared ``period`` (None: :func:`default_bins`).

    Examples
    --------
    >>> check_bins(None, 86400.0), check_bins(24, 86400.0)
    (48, 24)
    >>> check_bins(1, 86400.0)
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: seasonality.bins must be an integer from 2 to 336, got 1
    """
    if value is None:
        value = default_bins(period)
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_BINS:
        raise DetectorError(
            f"seasonality.bins must be an integer from 2 to {MAX_BINS}, got {value!r}"
        )
    if period / value < MIN_BIN_SECONDS:
        raise DetectorError(
            f"seasonality.bins must be at most seasonality.period / {MIN_BIN_SECONDS:g} s: a "
            f"period of {period:g} s holds at most {int(period / MIN_BIN_SECONDS)} bins, got {value}"
        )
    return value
