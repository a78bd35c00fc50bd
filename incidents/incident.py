"""Pieces of the incident documents published on the alerts topic (schema ``anomaly.incident/v1``).

An incident's id is derived from its identity (model, version, entity and the event time of the
point that opened it), so replaying the same input yields the same id and delivery can dedup. The
documents themselves are built by ``incidents.incident_event``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

SCHEMA = "anomaly.incident/v1"

SEVERITIES = ("critical", "error", "warning", "info")


def incident_id(model_id: str, model_version: str, entity: str, opened_ts: float) -> str:
    """The stable id of the incident a (model, version, entity) opened at event time ``opened_ts``.

    Examples
    --------
    >>> incident_id("metrics-v1", "1.0", "host-1", 1795766400.0)
    'inc-44ffe1730e09044a3ca9'
    >>> incident_id("metrics-v1", "1.0", "host-1", 1795766400.0) == incident_id(
    ...     "metrics-v1", "1.0", "host-2", 1795766400.0)
    False
    """
    identity = "\x1f".join((model_id, model_version, entity, repr(float(opened_ts))))
    return "inc-" + hashlib.sha256(identity.encode()).hexdigest()[:20]


def severity_for(score: float, threshold: float) -> str:
    """Severity from how far the score is above its threshold.

    Twice the threshold or more is critical, 1.5 times is error, anything above is a warning.

    Examples
    --------
    >>> severity_for(8.0, 3.0), severity_for(5.0, 3.0), severity_for(3.5, 3.0)
    ('critical', 'error', 'warning')
    """
    if threshold <= 0 or not math.isfinite(score):
        return "critical"
    ratio = score / threshold
    if ratio >= 2.0:
        return "critical"
    if ratio >= 1.5:
        return "error"
    return "warning"


def iso_time(ts: float) -> str:
    """ISO-8601 UTC with milliseconds.

    Examples
    --------
    >>> iso_time(1795766400.25)
    '2026-11-27T08:00:00.250Z'
    """
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _fmt(value: float) -> str:
    """Short human number: 3 significant digits for small, no exponent for ordinary values."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


@lru_cache(maxsize=1024)
def _against(center: float, spread: float) -> str:
    """The baseline part of a clause (a block has few distinct baselines, so it is cached)."""
    return f" vs {_fmt(center)}±{_fmt(spread)}"


@dataclass(frozen=True)
class Signal:
    """One feature's contribution to an anomaly.

    ``score`` is a signed deviation in baseline spreads (σ) for numeric features; a signal with a
    ``detail`` (a behaviour edge, say) describes itself with it instead, its score in bits.
    """

    feature: str
    value: float | None
    score: float | None
    center: float | None
    spread: float | None
    detail: str | None = None

    def describe(self) -> str:
        """Examples
        --------
        >>> Signal("latency_ms", 148.0, 9.6, 100.0, 5.0).describe()
        'latency_ms 9.6σ above baseline (148 vs 100±5)'
        >>> Signal("error_ratio", 0.3, 6.2, 0.05, 0.04).describe()
        'error_ratio 6.2σ above baseline (0.3 vs 0.05±0.04, 6x)'
        >>> Signal("error_ratio", 1.0, 1e9, 0.0, 1e-9).describe()
        'error_ratio above its flat baseline (1 vs 0)'
        >>> Signal("login -> /admin", None, 7.25, None, None,
        ...        "new transition login -> /admin (never seen in 40 events)").describe()
        'new transition login -> /admin (never seen in 40 events), 7.2 bits'
        """
        if self.detail:
            return self.detail if self.score is None else f"{self.detail}, {self.score:.1f} bits"
        return numeric_clause(self.feature, self.value, self.score, self.center, self.spread)


def numeric_clause(
    feature: str,
    value: float | None,
    score: float | None,
    center: float | None,
    spread: float | None,
) -> str:
    """How a numeric feature deviates (:meth:`Signal.describe` without a ``detail``), from its
    numbers, non-finite ones given as None.

    Examples
    --------
    >>> numeric_clause("latency_ms", 148.0, 9.6, 100.0, 5.0)
    'latency_ms 9.6σ above baseline (148 vs 100±5)'
    >>> numeric_clause("cpu", None, 4.0, 50.0, 8.0)
    'cpu missing'
    """
    if score is None or value is None:
        return f"{feature} missing"
    direction = "above" if score >= 0 else "below"
    if center is not None and spread is not None and spread <= 1e-6 * max(1.0, abs(center)):
        # A flat baseline: a σ count would be a meaningless huge number.
        return f"{feature} {direction} its flat baseline ({_fmt(value)} vs {_fmt(center)})"
    size = abs(score)
    sigmas = f"{size:.1f}" if size < 1e4 else f"{size:.2g}"
    text = f"{feature} {sigmas}σ {direction} baseline ({_fmt(value)}"
    if center is not None and spread is not None:
        text += _against(center, spread)
        if center > 0 and value >= 2 * center:
            text += f", {value / center:.0f}x"
    return text + ")"


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def signals_for(
    names: Sequence[str],
    values: Sequence[float],
    feature_scores: Sequence[float],
    baseline: Sequence[tuple[float, float]],
) -> list[Signal]:
    """Signals ranked by absolute deviation, largest first (missing features last)."""
    signals = [
        Signal(
            feature=name,
            value=finite_or_none(float(value)),
            score=finite_or_none(float(score)),
            center=finite_or_none(float(center)),
            spread=finite_or_none(float(spread)),
        )
        for name, value, score, (center, spread) in zip(
            names, values, feature_scores, baseline, strict=True
        )
    ]
    return sorted(signals, key=lambda s: -abs(s.score) if s.score is not None else math.inf)
