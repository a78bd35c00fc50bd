"""Root-cause text: the contributing signals ranked by deviation, named with their numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from incidents.incident import Signal

MIN_PARTNER_R = 0.6


def describe(
    signals: Sequence[Signal],
    partners: Mapping[str, Sequence[tuple[str, float]]] | None = None,
    limit: int = 3,
) -> str:
    """One clause per deviant signal (largest first), with the signals that moved with it.

    ``signals`` are ranked already (see ``incidents.incident.signals_for``); ``partners`` maps a
    signal's feature to ``(other signal, r)`` pairs of its rolling correlation.

    Examples
    --------
    >>> latency = Signal("latency_ms", 148.0, 9.6, 100.0, 5.0)
    >>> errors = Signal("error_rate", 0.04, 1.2, 0.03, 0.008)
    >>> describe([latency, errors], {"latency_ms": [("error_rate", 0.91)]})
    'latency_ms 9.6σ above baseline (148 vs 100±5), moving with error_rate (r=0.91); error_rate 1.2σ above baseline (0.04 vs 0.03±0.008)'
    >>> describe([Signal("cpu", None, None, None, None)])
    ''
    """
    clauses = []
    for signal in signals[:limit]:
        if signal.score is None or signal.score == 0:
            continue
        clause = signal.describe()
        moved = [
            f"{name} (r={r:.2f})"
            for name, r in (partners or {}).get(signal.feature, ())
            if abs(r) >= MIN_PARTNER_R
        ]
        if moved:
            clause += ", moving with " + ", ".join(moved[:3])
        clauses.append(clause)
    return "; ".join(clauses)
