"""The per-key step for log events: windows of derived features, scored like metrics.

Per (model, entity), log events fill tumbling windows of ``log_window`` seconds of event time
(``detectors.log_features.LogWindows``); each window that closes becomes one point of three
features, ``event_rate``, ``error_ratio`` and ``template_rarity`` (how rare the rarest message
template of the window is, after masking numbers, ids and hex), scored by the model's detector
through the same step as metrics. A window closes when an event past its end arrives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors import DetectorError
from detectors.log_features import FEATURES, LogWindowFeatures, LogWindows
from incidents.config import ModelConfig
from incidents.outcome import BatchOutcome
from incidents.scoring import score_batch

STATE_FORMAT = 1


@dataclass(frozen=True)
class LogEvent:
    ts: float
    level: str | None
    message: str


def _detail(window: LogWindowFeatures) -> str:
    if window.new_templates:
        return f"new log template {window.new_templates[0]!r} in the window"
    return ""


def score_log_events(
    config: ModelConfig,
    entity: str,
    state: Mapping[str, Any] | None,
    events: Sequence[LogEvent],
    *,
    learn: bool = True,
    source: str = "telemetry.logs",
    entity_state: Mapping[str, Any] | None = None,
) -> BatchOutcome:
    """Add ``events`` to the key's windows and score the windows that closed.

    The points of the outcome are the closed windows (``ts`` = window end).

    Examples
    --------
    Ten quiet minutes (one error now and then), then a minute of timeouts:

    >>> cfg = ModelConfig("logs-v1", "1", "zscore", stream="logs", warmup=5, log_window=60)
    >>> quiet = [LogEvent(60.0 * m + s, "error" if (m + s) % 20 == 0 else "info",
    ...                   f"GET /api/items/{s} 200") for m in range(10) for s in range(0, 60, 6)]
    >>> out = score_log_events(cfg, "api-1", None, quiet)
    >>> len(out.points), any(p.is_anomaly for p in out.points)
    (9, False)
    >>> burst = [LogEvent(600.0 + s, "error", f"timeout after {s} ms calling 10.0.0.7:8080")
    ...          for s in range(0, 60, 2)] + [LogEvent(661.0, "info", "GET /api/items/1 200")]
    >>> out = score_log_events(cfg, "api-1", out.state, burst, entity_state=out.entity_state)
    >>> [p.is_anomaly for p in out.points]
    [False, True]
    >>> for part in out.points[-1].root_cause.split("; "):
    ...     print(part)
    event_rate above its flat baseline (0.5 vs 0.1667)
    template_rarity 37.6σ above baseline (6.669 vs 0.09637±0.1749, 69x)
    error_ratio 9.5σ above baseline (1 vs 0.05±0.1, 20x)
    new log template 'timeout after <num> ms calling <ip>' in the window
    """
    previous: Mapping[str, Any] = state or {}
    usable = (
        previous.get("format") == STATE_FORMAT and previous.get("version") == config.model_version
    )
    try:
        windows = (
            LogWindows.from_state(previous["windows"], window=config.log_window)
            if usable and previous.get("windows")
            else LogWindows(window=config.log_window)
        )
    except DetectorError:
        windows, usable = LogWindows(window=config.log_window), False
    closed: list[LogWindowFeatures] = []
    for event in events:
        closed += windows.add(event.ts, event.level, event.message)
    numeric = previous.get("numeric") if usable else None
    outcome = score_batch(
        config,
        entity,
        numeric,
        [w.end for w in closed],
        [w.values() for w in closed],
        learn=learn,
        source=source,
        entity_state=entity_state,
        names=FEATURES,
        details=[_detail(w) for w in closed],
    )
    if learn:
        outcome.state = {
            "format": STATE_FORMAT,
            "version": config.model_version,
            "windows": windows.to_state(),
            "numeric": outcome.state if closed else numeric,
        }
    return outcome
