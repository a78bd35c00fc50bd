"""An incident's events as published on the alerts topic (schema ``anomaly.incident/v1``), and the
signal entries an incident names: its observations' top signals, one entry per signal
(``source:model:feature``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from incidents.compact import incident_summary
from incidents.incident import SCHEMA, Signal, iso_time, severity_for
from incidents.observation import Observation


def signal_key(source: str, model_id: str, feature: str) -> str:
    return f"{source}:{model_id}:{feature}"


def signal_entry(obs: Observation, signal: Signal) -> dict[str, Any]:
    return {
        "signal": signal_key(obs.source, obs.model_id, signal.feature),
        "model_id": obs.model_id,
        "source": obs.source,
        "feature": signal.feature,
        "value": signal.value,
        "score": signal.score,
        "center": signal.center,
        "spread": signal.spread,
        "detail": signal.detail,
        "ts": obs.ts,
    }


def top_signals(obs: Observation) -> list[Signal]:
    """The observation's signals worth naming: those with a deviation, at most the top 3."""
    named = [s for s in obs.signals if s.score is not None and s.score != 0]
    return named[:3] or list(obs.signals[:1])


def incident_event(incident: Mapping[str, Any], entity: str, kind: str) -> dict[str, Any]:
    """The ``kind`` event (``open``, ``update`` or ``resolve``) of the open ``incident`` of
    ``entity``, as published on the alerts topic."""
    resolved = kind == "resolve"
    summary = incident_summary(incident)
    return {
        "schema": SCHEMA,
        "event": kind,
        "seq": incident["seq"],
        "incident_id": incident["incident_id"],
        "dedup_key": incident["incident_id"],
        "status": "resolved" if resolved else "open",
        "model_id": incident["model_id"],
        "model_version": incident["model_version"],
        "models": list(incident["models"]),
        "entity": entity,
        "source": incident["source"],
        "ts": incident["ts"],
        "opened_at": iso_time(incident["ts"]),
        "last_seen": iso_time(incident["last_seen"]),
        "resolved_at": iso_time(incident["resolved_ts"]) if resolved else None,
        "score": _finite(incident["score"]),
        "peak_score": _finite(incident["peak_score"]),
        "threshold": incident["threshold"],
        "severity": severity_for(incident["peak_ratio"], 1.0),
        "opened_severity": incident["opened_severity"],
        "summary": f"{incident['model_id']} on {entity}: {summary}" if summary else "",
        "signals": [dict(s) for s in incident["signals"]],
        "alert_channels": list(incident["alert_channels"]),
        **({"resolution": incident["resolution"]} if "resolution" in incident else {}),
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
