"""`GET /anomaly/series` on the worker that owns the entity: the key's recent points (from its
:class:`app.worker.recent.RecentStore`), its baseline, and a forecast from its stored state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.worker.entity_record import EntityRecord
from detectors.log_features import FEATURES
from incidents.key_state import forecast_report
from incidents.logs import STATE_FORMAT as LOG_STATE_FORMAT

if TYPE_CHECKING:
    from app.worker.engine_protocol import EngineProtocol


def series_reply(engine: EngineProtocol, request: Mapping[str, Any]) -> dict[str, Any]:
    """The reply to a ``{"kind": "series", "model_id", "entity", "limit", "horizon"}`` request."""
    model_id, entity = request["model_id"], request["entity"]
    config = engine.configs.scored_as(model_id)  # a model, or a series of one
    if config is None:
        return {"error": "unknown_model", "message": f"no configuration for model {model_id!r}"}
    recent = engine.recent.series(model_id, entity, request.get("limit")) or {
        "points": [],
        "baseline": [],
        "threshold": None,
        "step_seconds": None,
    }
    points = recent["points"]
    width = len(points[-1]["values"]) if points else 0
    names = list(FEATURES) if config.stream == "logs" else config.names_for(width)
    forecast = None
    horizon = int(request.get("horizon") or 0)
    if horizon and config.stream != "behavior":
        state = EntityRecord(engine.entity_state.get(entity)).model_state(model_id)
        if config.stream == "logs" and state is not None:
            usable = state.get("format") == LOG_STATE_FORMAT
            state = state.get("numeric") if usable else None
        forecast = forecast_report(
            config,
            state,
            horizon,
            names=names if config.stream == "logs" else None,
            step_seconds=recent["step_seconds"],
            last_ts=points[-1]["ts"] if points else None,
        )
    return {
        "model_id": model_id,
        "model_version": config.model_version,
        "entity": entity,
        "stream": config.stream,
        "features": names if width else [],
        "points": points,
        "baseline": [
            {"feature": name, **baseline}
            for name, baseline in zip(names, recent["baseline"], strict=False)
        ],
        "threshold": recent["threshold"],
        "step_seconds": recent["step_seconds"],
        "forecast": forecast,
    }
