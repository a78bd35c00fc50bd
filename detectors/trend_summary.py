"""What a trend tracker reports (see :mod:`detectors.trend`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrendSummary:
    """What a :class:`TrendTracker` reports.

    Attributes
    ----------
    slope
        Units of the value per second of event time; None before two distinct timestamps.
    direction
        "up", "down" or "flat".
    change_points
        Event times of the most recent change points, oldest first.
    last_change
        The newest change point, or None.

    Examples
    --------
    >>> TrendSummary(slope=0.5, direction="up", change_points=[60.0], last_change=60.0).direction
    'up'
    """

    slope: float | None
    direction: str
    change_points: list[float] = field(default_factory=list)
    last_change: float | None = None
