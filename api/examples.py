"""Examples for the OpenAPI schema: every request body and every response of every route.

Request examples are real requests (``tests/unit/test_openapi_examples.py`` sends each one and
expects it accepted); response examples validate against their response models. They show what
the engine answers, numbers included, for the README's configuration and telemetry.
"""

from __future__ import annotations

from typing import Any

from api.schemas.config import README_CONFIG_EXAMPLE, ModelConfigIn
from api.schemas.silences import WEEKLY_SILENCE_EXAMPLE

T0 = 1795766400.0  # 2026-11-27T08:00:00Z
UPDATED_AT = "2026-11-27T08:00:00.000Z"


def example(value: Any, summary: str = "") -> dict[str, Any]:
    """One named example of ``openapi_examples`` / a media type's ``examples``."""
    return {"summary": summary, "value": value} if summary else {"value": value}


def json_content(value: Any) -> dict[str, Any]:
    """A response's ``content`` with one JSON example."""
    return {"content": {"application/json": {"example": value}}}


# ------------------------------------------------------------------------------- configuration

LOGS_CONFIG: dict[str, Any] = {
    "model_id": "api-logs",
    "stream": "logs",
    "detector": "mad",
    "log_window": 60,
    "alert_channels": ["slack"],
}
BEHAVIOR_CONFIG: dict[str, Any] = {
    "model_id": "user-paths",
    "stream": "behavior",
    "detector": "graph_rarity",
    "params": {"threshold": 6},
    "alert_channels": ["webhook"],
}
NAMED_FEATURES_CONFIG: dict[str, Any] = {
    "model_id": "latency-v2",
    "model_version": "2",
    "detector": "ewma",
    "features": ["latency_ms", "error_rate"],
    "params": {"alpha": 0.1, "threshold": 4},
    "suppression": {"persistence": {"k": 3, "n": 5}, "min_rel_deviation": 0.05},
    "forecast": {"season_length": 24, "predictive_horizon": 12},
    "resolve_after": 600,
    "alert_channels": ["pagerduty", "alertmanager"],
}

CONFIGS_IN = {
    "readme": example(README_CONFIG_EXAMPLE, "The README's z-score model of host metrics"),
    "logs": example({"configs": [LOGS_CONFIG]}, "A logs model: error bursts and rare messages"),
    "behavior": example({"configs": [BEHAVIOR_CONFIG]}, "A behaviour model: rare user paths"),
    "named_features": example(
        {"configs": [NAMED_FEATURES_CONFIG]},
        "Named features, stricter suppression, a seasonal forecast with predictive alerts",
    ),
}


def stored_config(config: dict[str, Any]) -> dict[str, Any]:
    """A configuration as the engine stores and returns it: every default filled in."""
    return {**ModelConfigIn.model_validate(config).model_dump(), "updated_at": UPDATED_AT}


README_STORED = stored_config(README_CONFIG_EXAMPLE["configs"][0])
CONFIGS_OUT = {"configs": [README_STORED]}
ALL_CONFIGS_OUT = {"configs": [stored_config(LOGS_CONFIG), README_STORED]}

# ------------------------------------------------------------------------------------- scoring

SCORE_LABELS = {
    "model_id": "metrics-v1",
    "entity": "host-1",
    "dry_run": True,
    "labels": [0, 1],
    "records": [
        {"ts": "2026-11-27T08:01:00Z", "values": [102, 5]},
        {"ts": "2026-11-27T08:01:10Z", "values": [150, 5]},
    ],
}
SCORE_FORECAST = {
    "model_id": "metrics-v1",
    "entity": "host-1",
    "dry_run": True,
    "horizon": 2,
    "records": [
        {"ts": T0 + 10 * i, "values": [value, 5.0]}
        for i, value in enumerate([100, 101, 99, 100.5, 102, 101, 103, 104])
    ],
}
SCORE_LEARN = {
    "model_id": "metrics-v1",
    "entity": "host-2",
    "records": [
        {"ts": "2026-11-27T08:00:00Z", "values": [101.0, 5.0]},
        {"ts": "2026-11-27T08:00:10Z", "values": [99.0, None]},
    ],
}
SCORE_COLUMNS = {
    "model_id": "metrics-v1",
    "entity": "host-1",
    "dry_run": True,
    "results_as": "columns",
    "records": {
        "ts": [T0 + 10 * i for i in range(4)],
        "values": [[101.0, 99.5, 160.0, 100.2], [5.0, 5.1, 5.0, None]],
    },
}
SCORE_IN = {
    "labels": example(SCORE_LABELS, "A dry run judged against labels (the README's request)"),
    "forecast": example(SCORE_FORECAST, "Trend and a 2-step forecast per feature"),
    "learn": example(SCORE_LEARN, "Score and learn, like streamed points (a null is a gap)"),
    "columns": example(
        SCORE_COLUMNS,
        "Records and answer as columns (a list per feature, per field): for large batches",
    ),
}

_QUALITY = {
    "precision": 1.0,
    "recall": 1.0,
    "f1": 1.0,
    "accuracy": 1.0,
    "tp": 1,
    "fp": 0,
    "fn": 0,
    "tn": 1,
    "event_precision": 1.0,
    "event_recall": 1.0,
    "event_f1": 1.0,
    "windows": 1,
    "detected": 1,
    "alarms": 1,
    "false_alarms": 0,
    "mean_delay_points": 0.0,
    "mean_delay_seconds": 0.0,
    "points": 2,
}
SCORE_OUT = {
    "model_id": "metrics-v1",
    "model_version": "1.0",
    "entity": "host-1",
    "dry_run": True,
    "points_seen": 31,
    "anomalies": 1,
    "results": [
        {
            "ts": T0 + 60,
            "score": 0.4,
            "threshold": 1.5,
            "is_anomaly": False,
            "correlated": [],
            "warm": True,
            "alert": False,
            "suppressed_by": None,
            "incident_id": None,
            "root_cause": None,
        },
        {
            "ts": T0 + 70,
            "score": 10.0,
            "threshold": 1.5,
            "is_anomaly": True,
            "correlated": [],
            "warm": True,
            "alert": True,
            "suppressed_by": None,
            "incident_id": None,
            "root_cause": "feature_0 10.0σ above baseline (150 vs 100±5)",
        },
    ],
    "incidents": [],
    "metrics": _QUALITY,
    "forecast": None,
}

# ------------------------------------------------------------------------------------ incidents

INCIDENT = {
    "schema": "anomaly.incident/v1",
    "event": "open",
    "seq": 0,
    "incident_id": "inc-b28cdb5c8bd98293f082",
    "dedup_key": "inc-b28cdb5c8bd98293f082",
    "status": "open",
    "model_id": "metrics-v1",
    "model_version": "1.0",
    "models": ["metrics-v1"],
    "entity": "host-1",
    "source": "telemetry.metrics",
    "ts": T0 + 40,
    "opened_at": "2026-11-27T08:00:40.000Z",
    "last_seen": "2026-11-27T08:00:40.000Z",
    "resolved_at": None,
    "score": 12.0,
    "peak_score": 12.0,
    "threshold": 1.5,
    "severity": "critical",
    "opened_severity": "critical",
    "summary": "metrics-v1 on host-1: feature_0 12.0σ above baseline (160 vs 100±5)",
    "signals": [
        {
            "signal": "telemetry.metrics:metrics-v1:feature_0",
            "model_id": "metrics-v1",
            "source": "telemetry.metrics",
            "feature": "feature_0",
            "value": 160.0,
            "score": 12.0,
            "center": 100.0,
            "spread": 5.0,
            "detail": None,
            "ts": T0 + 40,
        }
    ],
    "alert_channels": ["pagerduty", "slack"],
}
ALERTS_OUT = {
    "alerts": [
        {
            **INCIDENT,
            "deliveries": {
                "pagerduty": {
                    "open": {"seq": 0, "status": "delivered", "attempts": 1, "http_status": 202}
                },
                "slack": {
                    "open": {
                        "seq": 0,
                        "status": "retrying",
                        "attempts": 1,
                        "http_status": 429,
                        "error": "HTTP 429 Too Many Requests: rate_limited",
                    }
                },
            },
            "silenced": False,
        }
    ],
    "count": 1,
}

FEEDBACK_IN = {
    "false_positive": example(
        {"verdict": "false_positive"},
        "The incident's points were normal: learn them, resolve it",
    )
}
FEEDBACK_OUT = {
    "incident_id": INCIDENT["incident_id"],
    "entity": "host-1",
    "model_id": "metrics-v1",
    "verdict": "false_positive",
    "status": "resolved",
    "resolved_at": "2026-11-27T08:00:40.000Z",
    "learned": {"metrics-v1": 1},
}
NOT_OPEN = {
    "detail": f"incident {INCIDENT['incident_id']} resolved at 2026-11-27T08:05:50.000Z; "
    "feedback applies to open incidents"
}

# ------------------------------------------------------------------------------------- silences

WEEKLY_SILENCE = WEEKLY_SILENCE_EXAMPLE
ONE_OFF_SILENCE = {
    "matchers": {"model_id": "metrics-v1", "entity": "host-1"},
    "ends_at": "2026-11-27T12:00:00Z",
    "comment": "host-1 is being rebooted",
}
SILENCE_IN = {
    "weekly": example(WEEKLY_SILENCE, "A weekly maintenance window for every database host"),
    "one_off": example(ONE_OFF_SILENCE, "One host, until noon (starts now)"),
    "warnings": example(
        {"matchers": {"severity": "warning"}, "ends_at": T0 + 86400},
        "Every warning for a day",
    ),
}
SILENCE_OUT = {
    "id": "sil-5f2c0e7a9b1d3c48",
    "matchers": {"entity": "~db-.*"},
    "starts_at": "2026-11-27T00:00:00.000Z",
    "ends_at": "2026-12-31T00:00:00.000Z",
    "recurrence": WEEKLY_SILENCE["recurrence"],
    "comment": "weekly database maintenance",
    "created_by": "ops@example.com",
    "active": False,
}
SILENCES_OUT = {"silences": [SILENCE_OUT]}

# ---------------------------------------------------------------------------------------- stats

MODEL_STATS = {
    "points": 1204,
    "points_by_version": {"1.0": 1204},
    "anomalies": 9,
    "alerts": 4,
    "incidents_opened": 2,
    "incidents_resolved": 1,
    "predicted_breaches": 0,
    "suppressed": {"warmup": 0, "persistence": 3, "min_deviation": 1, "cooldown": 1, "late": 0},
    "quality": None,
}
STATS_OUT = {"models": {"metrics-v1": MODEL_STATS}}

# --------------------------------------------------------------------------------------- health

HEALTH_OK = {
    "status": "ok",
    "broker": "127.0.0.1:9092",
    "embedded_broker": True,
    "embedded_broker_kind": "kafka",
    "recovery_done": True,
    "configs_loaded": True,
    "alerts_loaded": True,
    "app_id": "anomaly-engine",
    "assigned_partitions": [0, 1, 2, 3],
}
HEALTH_STARTING = {
    **HEALTH_OK,
    "status": "starting",
    "recovery_done": False,
    "alerts_loaded": False,
    "assigned_partitions": [],
}

# --------------------------------------------------------------------------------------- errors

UNAUTHORIZED = {"detail": "this endpoint needs an API key: send 'Authorization: Bearer <key>'"}
FORBIDDEN = {"detail": "this endpoint needs an admin key; key 3f2a9c1d has the read scope only"}
TOO_LARGE = {
    "detail": "the request body is over the limit of 33554432 bytes (32 MiB, "
    "ANOMALY_MAX_BODY_BYTES); send fewer records per request"
}
RATE_LIMITED = {
    "detail": "too many scoring requests: each client may send 20 per second, in bursts of up to "
    "40 (ANOMALY_SCORE_RATE_PER_S, ANOMALY_SCORE_BURST); retry in 1 s"
}
UNAVAILABLE = {"detail": "the worker owning entity 'host-1' did not answer within 30 s"}
INVALID_EXAMPLES = {
    "body": example(
        {"detail": [{"field": "configs[0].params", "message": "std[1] must be positive, got 0.0"}]},
        "A field of the body",
    ),
    "query": example(
        {"detail": [{"field": "limit", "message": "Input should be less than or equal to 10000"}]},
        "A query parameter",
    ),
}
