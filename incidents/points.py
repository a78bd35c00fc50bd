"""Telemetry points as the scoring step takes them, whatever carried them (a Kafka message, a
REST request, a CSV file): a :class:`Batch` of one entity's points for one model, event times as
epoch seconds (:func:`parse_ts`), and :class:`TelemetryError` for input that cannot be scored.
The wire formats are decoded into these in ``app.telemetry``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

# Epoch seconds past this (year 5138) are almost surely milliseconds.
MAX_EPOCH_SECONDS = 1e11


class TelemetryError(ValueError):
    """A telemetry message or record that cannot be scored; the message says why."""


def parse_ts(value: object, where: str = "ts") -> float:
    """Event time in epoch seconds from ISO-8601 text or epoch seconds.

    Examples
    --------
    >>> parse_ts("2026-11-27T08:00:00Z"), parse_ts("2026-11-27T09:00:00+01:00")
    (1795766400.0, 1795766400.0)
    >>> parse_ts(1795766400), parse_ts("1795766400.5")
    (1795766400.0, 1795766400.5)
    >>> parse_ts(1795766400000)
    Traceback (most recent call last):
    ...
    incidents.points.TelemetryError: ts 1795766400000 looks like milliseconds; send epoch seconds or ISO-8601
    """
    if type(value) is float and -MAX_EPOCH_SECONDS < value < MAX_EPOCH_SECONDS:
        return value  # the usual: epoch seconds as a float (NaN and inf fail the comparison)
    if isinstance(value, bool):
        raise TelemetryError(f"{where} must be ISO-8601 text or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise TelemetryError(f"{where} must be a finite number, got {value!r}")
        if abs(seconds) >= MAX_EPOCH_SECONDS:
            hint = "looks like milliseconds" if abs(seconds) < 1e14 else "is out of range"
            raise TelemetryError(f"{where} {value!r} {hint}; send epoch seconds or ISO-8601")
        return seconds
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None  # not a number: ISO-8601 text
        if number is not None:
            return parse_ts(number, where)
        try:
            parsed = datetime.fromisoformat(
                text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
            )
        except ValueError:
            raise TelemetryError(
                f"{where} {value!r} is neither ISO-8601 nor epoch seconds"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise TelemetryError(f"{where} must be ISO-8601 text or epoch seconds, got {value!r}")


@dataclass(frozen=True)
class Batch:
    """Decoded points of one entity for one model; ``labels`` when any point carried one, and
    ``feedback`` (a verdict or None per point) when any point carried one."""

    model_id: str
    entity: str
    ts: list[float]  # or a numpy array, from a columnar message of plain numbers
    values: list[list[float]]  # or a numpy array, one row per point
    labels: list[int | None] | None = None
    feedback: list[str | None] | None = None
