"""The REST API over a fake in-memory engine: validation, errors, scoring metrics, alerts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_api, examples
from api.engine import (
    EngineUnavailable,
    IncidentNotOpen,
    InvalidInput,
    ScoreCommand,
    UnknownIncident,
    UnknownModel,
)
from incidents.config import ModelConfig
from incidents.recommended import RECOMMENDED

README_PAYLOAD: dict[str, Any] = {
    "configs": [
        {
            "model_id": "metrics-v1",
            "model_version": "1.0",
            "detector": "zscore",
            "params": {"mean": [100, 5], "std": [5, 1], "threshold": 1.5},
            "threshold_strategy": "adaptive",
            "adaptive_sensitivity": 2.5,
            "history_window": 64,
            "cooldown": 1,
            "alert_channels": ["pagerduty", "slack"],
        }
    ]
}
README_TEXT = json.dumps(README_PAYLOAD)

HEALTH = {
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


class FakeEngine:
    """An in-memory api.engine.Engine that records every call."""

    def __init__(self, max_points: int = 5) -> None:
        self.configs: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.flags: list[bool] = []
        self.score_error: Exception | None = None
        self.alerts: list[dict[str, Any]] = [{"incident_id": "inc-1", "ts": 1.0}]
        self.max_points = max_points
        self.silences: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, dict[str, Any]] = {}
        self.actors: list[str | None] = []
        # incident id -> "resolved" or "unknown"; any other id is an open incident of host-1
        self.incident_status: dict[str, str] = {}

    async def apply_configs(
        self, configs: list[dict[str, Any]], actor: str | None = None
    ) -> list[dict[str, Any]]:
        self.calls.append(("apply_configs", copy.deepcopy(configs)))
        self.actors.append(actor)
        stored = [{**c, "updated_at": "2026-11-27T08:00:00.000Z"} for c in configs]
        self.configs.update({c["model_id"]: c for c in stored})
        return stored

    def list_configs(self) -> list[dict[str, Any]]:
        return [self.configs[k] for k in sorted(self.configs)]

    def get_config(self, model_id: str) -> dict[str, Any] | None:
        return self.configs.get(model_id)

    async def score(self, command: ScoreCommand) -> dict[str, Any]:
        self.calls.append(("score", command))
        if self.score_error is not None:
            raise self.score_error
        flags = self.flags or [False] * len(command.records)
        return {
            "model_version": "1.0",
            "points": [
                {
                    "ts": float(i),
                    "score": 5.0 if flag else 0.5,
                    "threshold": 3.0,
                    "is_anomaly": flag,
                    "warm": True,
                    "alert": flag,
                    "incident_id": None,
                }
                for i, flag in enumerate(flags)
            ],
            "incidents": [],
            "insights": {"features": [{"feature": "cpu", "forecast": []}]}
            if command.horizon
            else None,
        }

    def query_alerts(
        self, *, model_id: str | None, entity: str | None, since: float | None, limit: int
    ) -> list[dict[str, Any]]:
        self.calls.append(
            (
                "query_alerts",
                {"model_id": model_id, "entity": entity, "since": since, "limit": limit},
            )
        )
        return self.alerts

    def health(self) -> dict[str, Any]:
        return dict(HEALTH)

    async def create_silence(
        self, silence: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("create_silence", copy.deepcopy(silence)))
        self.actors.append(actor)
        stored = {
            "id": f"sil-{len(self.silences) + 1}",
            "matchers": silence["matchers"],
            "starts_at": "2026-11-27T00:00:00Z",
            "ends_at": "2026-12-31T00:00:00Z",
            "recurrence": silence.get("recurrence"),
            "comment": silence.get("comment", ""),
            "created_by": silence.get("created_by", ""),
            "active": True,
        }
        self.silences[stored["id"]] = stored
        return stored

    def list_silences(self) -> list[dict[str, Any]]:
        return list(self.silences.values())

    async def delete_silence(self, silence_id: str, actor: str | None = None) -> bool:
        self.calls.append(("delete_silence", silence_id))
        self.actors.append(actor)
        return self.silences.pop(silence_id, None) is not None

    def model_stats_report(self) -> dict[str, dict[str, Any]]:
        return self.stats

    async def feedback(
        self, incident_id: str, verdict: str, actor: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("feedback", (incident_id, verdict)))
        self.actors.append(actor)
        status = self.incident_status.get(incident_id, "open")
        if status == "unknown":
            raise UnknownIncident(f"no incident {incident_id!r}")
        if status == "resolved":
            raise IncidentNotOpen(f"incident {incident_id} resolved at 2026-11-27T08:05:50.000Z")
        return {**examples.FEEDBACK_OUT, "incident_id": incident_id, "verdict": verdict}

    async def series(self, model_id: str, entity: str, limit: int, horizon: int) -> dict[str, Any]:
        self.calls.append(("series", (model_id, entity, limit, horizon)))
        if model_id not in self.configs:
            raise UnknownModel(f"no configuration for model {model_id!r}")
        return {
            "model_id": model_id,
            "model_version": "1.0",
            "entity": entity,
            "stream": "metrics",
            "features": ["cpu"],
            "points": [
                {
                    "ts": 1.0,
                    "values": [140.0],
                    "score": 8.0,
                    "threshold": 3.0,
                    "is_anomaly": True,
                    "alert": True,
                    "incident_id": "inc-1",
                    "lower": [85.0],
                    "upper": [115.0],
                }
            ][:limit],
            "baseline": [{"feature": "cpu", "center": 100.0, "spread": 5.0}],
            "threshold": 3.0,
            "step_seconds": None,
            "forecast": {"features": [{"feature": "cpu", "forecast": []}]} if horizon else None,
        }

    @property
    def max_points_per_request(self) -> int:
        return self.max_points


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture
def client(engine: FakeEngine) -> Iterator[TestClient]:
    """A client on the engine's machine: with no key configured, it may also write."""
    with TestClient(
        create_api(engine), raise_server_exceptions=False, client=LOOPBACK
    ) as test_client:
        yield test_client


def _only_error(response: Any) -> dict[str, str]:
    body = response.json()
    assert response.status_code == 422, body
    assert isinstance(body["detail"], list) and len(body["detail"]) >= 1
    item: dict[str, str] = body["detail"][0]
    assert set(item) == {"field", "message"}
    return item


# --- POST /anomaly/config ---------------------------------------------------------------------


def test_readme_payload_is_accepted_verbatim_and_echoed(
    client: TestClient, engine: FakeEngine
) -> None:
    response = client.post(
        "/anomaly/config", content=README_TEXT, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    (echoed,) = response.json()["configs"]
    for key, value in README_PAYLOAD["configs"][0].items():
        assert echoed[key] == value, key
    assert echoed["updated_at"] == "2026-11-27T08:00:00.000Z"
    # the engine receives the whole configuration, defaults included
    ((name, (stored,)),) = engine.calls
    assert name == "apply_configs"
    assert stored["model_id"] == "metrics-v1" and stored["features"] is None
    assert stored["params"] == {"mean": [100, 5], "std": [5, 1], "threshold": 1.5}


def test_numeric_model_version_is_kept_as_text(client: TestClient, engine: FakeEngine) -> None:
    payload = copy.deepcopy(README_PAYLOAD)
    payload["configs"][0]["model_version"] = 2
    response = client.post("/anomaly/config", json=payload)
    assert response.status_code == 200
    assert response.json()["configs"][0]["model_version"] == "2"


def _variant(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(README_PAYLOAD)
    payload["configs"][0].update(changes)
    return payload


def _raw(old: str, new: str) -> str:
    assert old in README_TEXT
    return README_TEXT.replace(old, new)


INVALID_CONFIGS: list[tuple[str, str, str, str]] = [
    # (id, raw JSON body, field, message fragment)
    (
        "negative silent_after",
        json.dumps(_variant(silent_after=-1)),
        "configs[0].silent_after",
        "greater than or equal to 0",
    ),
    (
        "negative state_ttl",
        json.dumps(_variant(state_ttl=-0.5)),
        "configs[0].state_ttl",
        "greater than or equal to 0",
    ),
    (
        "negative expect_every",
        json.dumps(_variant(expect_every=-5)),
        "configs[0].expect_every",
        "greater than or equal to 0",
    ),
    (
        "unknown detector",
        json.dumps(_variant(detector="iforest")),
        "configs[0].detector",
        "unknown detector 'iforest'; choose one of: ",
    ),
    (
        "mean/std lengths",
        json.dumps(_variant(params={"mean": [100, 5], "std": [5]})),
        "configs[0].params",
        "mean and std must have the same length",
    ),
    (
        "zero std",
        json.dumps(_variant(params={"mean": [100, 5], "std": [5, 0]})),
        "configs[0].params",
        "std[1] must be positive",
    ),
    (
        "negative std",
        json.dumps(_variant(params={"mean": [100, 5], "std": [-5, 1]})),
        "configs[0].params",
        "std[0] must be positive",
    ),
    (
        "NaN threshold",
        _raw('"threshold": 1.5', '"threshold": NaN'),
        "configs[0].params",
        "threshold must be finite",
    ),
    (
        "Infinity mean",
        _raw('"mean": [100, 5]', '"mean": [Infinity, 5]'),
        "configs[0].params",
        "mean[0] must be finite",
    ),
    (
        "-Infinity std",
        _raw('"std": [5, 1]', '"std": [5, -Infinity]'),
        "configs[0].params",
        "std[1] must be",
    ),
    ("NaN cooldown", _raw('"cooldown": 1', '"cooldown": NaN'), "configs[0].cooldown", "finite"),
    (
        "Infinity sensitivity",
        _raw('"adaptive_sensitivity": 2.5', '"adaptive_sensitivity": Infinity'),
        "configs[0].adaptive_sensitivity",
        "finite",
    ),
    (
        "unknown channel",
        json.dumps(_variant(alert_channels=["slack", "email"])),
        "configs[0].alert_channels",
        "unknown alert channel 'email'",
    ),
    (
        "bad strategy",
        json.dumps(_variant(threshold_strategy="dynamic")),
        "configs[0].threshold_strategy",
        "unknown threshold strategy 'dynamic'",
    ),
    (
        "misspelt field",
        _raw('"cooldown": 1', '"cooldwn": 1'),
        "configs[0].cooldwn",
        "unknown field",
    ),
    (
        "misspelt param",
        json.dumps(_variant(params={"mean": [1], "std": [1], "treshold": 2})),
        "configs[0].params",
        "unknown parameter 'treshold'",
    ),
    (
        "features vs mean/std",
        json.dumps(_variant(features=["cpu", "mem", "disk"])),
        "configs[0].params",
        "mean has 2 values but features names 3",
    ),
    (
        "history_window < 8",
        json.dumps(_variant(history_window=7)),
        "configs[0].history_window",
        "greater than or equal to 8",
    ),
    (
        "negative cooldown",
        json.dumps(_variant(cooldown=-1)),
        "configs[0].cooldown",
        "greater than or equal to 0",
    ),
    (
        "zero alert budget",
        json.dumps(_variant(threshold_strategy="budget", alerts_per_day=0)),
        "configs[0].alerts_per_day",
        "greater than 0",
    ),
    ("bad model_id", json.dumps(_variant(model_id="has space")), "configs[0].model_id", "pattern"),
    (
        "missing model_id",
        json.dumps({"configs": [{"detector": "zscore"}]}),
        "configs[0].model_id",
        "this field is required",
    ),
    ("no configs", '{"configs": []}', "configs", "at least 1"),
]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [case[1:] for case in INVALID_CONFIGS],
    ids=[case[0] for case in INVALID_CONFIGS],
)
def test_invalid_configs_are_rejected_with_the_field_and_a_sentence(
    client: TestClient, engine: FakeEngine, body: str, field: str, fragment: str
) -> None:
    response = client.post(
        "/anomaly/config", content=body, headers={"content-type": "application/json"}
    )
    item = _only_error(response)
    assert item["field"] == field
    assert fragment in item["message"]
    assert len(item["message"].split()) >= 3, "the message should be a sentence"
    assert "Traceback" not in response.text
    assert engine.calls == [], "nothing may be stored from a rejected request"


def test_malformed_json_is_rejected_without_calling_the_engine(
    client: TestClient, engine: FakeEngine
) -> None:
    item = _only_error(
        client.post(
            "/anomaly/config", content="{configs:", headers={"content-type": "application/json"}
        )
    )
    assert "JSON" in item["message"]
    assert engine.calls == []


def test_malformed_json_names_the_body(client: TestClient) -> None:
    response = client.post(
        "/anomaly/config", content="{configs:", headers={"content-type": "application/json"}
    )
    assert _only_error(response)["field"] == "body"


def test_one_bad_config_rejects_the_whole_request(client: TestClient, engine: FakeEngine) -> None:
    good = README_PAYLOAD["configs"][0]
    bad = {**good, "model_id": "other", "detector": "iforest"}
    item = _only_error(client.post("/anomaly/config", json={"configs": [good, bad]}))
    assert item["field"] == "configs[1].detector"
    assert engine.calls == []


def test_duplicate_model_id_in_one_request_is_rejected(
    client: TestClient, engine: FakeEngine
) -> None:
    good = README_PAYLOAD["configs"][0]
    item = _only_error(client.post("/anomaly/config", json={"configs": [good, dict(good)]}))
    assert "model_id 'metrics-v1' appears twice in one request" in item["message"]
    assert engine.calls == []


def test_duplicate_model_id_names_the_configs_field(client: TestClient) -> None:
    good = README_PAYLOAD["configs"][0]
    item = _only_error(client.post("/anomaly/config", json={"configs": [good, dict(good)]}))
    assert item["field"] in {"configs", "configs[1].model_id", "configs[1]"}


def test_get_configs(client: TestClient) -> None:
    assert client.get("/anomaly/config").json() == {"configs": []}
    client.post("/anomaly/config", json=README_PAYLOAD)
    listed = client.get("/anomaly/config").json()["configs"]
    assert [c["model_id"] for c in listed] == ["metrics-v1"]
    one = client.get("/anomaly/config/metrics-v1")
    assert one.status_code == 200 and one.json()["detector"] == "zscore"
    assert one.json()["params"] == README_PAYLOAD["configs"][0]["params"]


def test_a_config_without_detector_runs_the_recommended_model(client: TestClient) -> None:
    posted = client.post("/anomaly/config", json={"configs": [{"model_id": "cpu"}]})
    assert posted.status_code in (200, 201), posted.text
    stored = client.get("/anomaly/config/cpu").json()
    assert stored["detector"] == RECOMMENDED["detector"]
    for field, value in RECOMMENDED.items():
        if field == "suppression":  # stored whole, its other settings at their defaults
            assert stored[field] | value == stored[field], field
        elif field != "params":
            assert stored[field] == value, field
    assert stored["params"] == RECOMMENDED.get("params", {})


def test_a_budget_config_round_trips_with_its_alert_rate(client: TestClient) -> None:
    payload = _variant(threshold_strategy="budget", alerts_per_day=4.5)
    (echoed,) = client.post("/anomaly/config", json=payload).json()["configs"]
    assert (echoed["threshold_strategy"], echoed["alerts_per_day"]) == ("budget", 4.5)
    one = client.get("/anomaly/config/metrics-v1").json()
    assert (one["threshold_strategy"], one["alerts_per_day"]) == ("budget", 4.5)
    (default,) = client.post("/anomaly/config", json=README_PAYLOAD).json()["configs"]
    assert default["alerts_per_day"] == 1.0


def test_get_unknown_config_is_404_with_a_sentence(client: TestClient) -> None:
    response = client.get("/anomaly/config/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "no configuration for model 'nope'"}


# --- POST /anomaly/score ----------------------------------------------------------------------


def _score_body(n: int = 2, **extra: Any) -> dict[str, Any]:
    records = [{"ts": 1795766400 + i, "values": [100.0 + i, 5.0]} for i in range(n)]
    return {"model_id": "metrics-v1", "entity": "host-1", "records": records, **extra}


def test_score_passes_the_request_to_the_engine(client: TestClient, engine: FakeEngine) -> None:
    body = _score_body(2, dry_run=True)
    body["records"][1] = {"ts": "2026-11-27T08:00:10Z", "values": {"cpu": 1.0, "mem": None}}
    response = client.post("/anomaly/score", json=body)
    assert response.status_code == 200, response.text
    ((name, command),) = engine.calls
    assert name == "score"
    assert command == ScoreCommand(
        model_id="metrics-v1",
        entity="host-1",
        records=[
            {"ts": 1795766400.0, "values": [100.0, 5.0]},
            {"ts": "2026-11-27T08:00:10Z", "values": {"cpu": 1.0, "mem": None}},
        ],
        dry_run=True,
    )
    out = response.json()
    assert out["dry_run"] is True and out["model_version"] == "1.0"
    assert out["metrics"] is None and out["anomalies"] == 0 and len(out["results"]) == 2


def test_labels_give_metrics_from_the_engines_verdicts(
    client: TestClient, engine: FakeEngine
) -> None:
    engine.flags = [True, True, False, False, True]
    response = client.post("/anomaly/score", json=_score_body(5, labels=[1, 0, 1, 0, 1]))
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["anomalies"] == 3
    assert [r["is_anomaly"] for r in out["results"]] == engine.flags
    metrics = out["metrics"]
    assert (metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"]) == (2, 1, 1, 1)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(2 / 3)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    # event-wise: label windows [0], [2], [4]; alarms [0-1] and [4]: two of three windows found
    assert (metrics["windows"], metrics["detected"], metrics["alarms"]) == (3, 2, 2)
    assert metrics["event_recall"] == pytest.approx(2 / 3) and metrics["event_precision"] == 1.0
    assert metrics["mean_delay_points"] == 0.0


def test_labels_with_no_predicted_anomaly(client: TestClient, engine: FakeEngine) -> None:
    response = client.post("/anomaly/score", json=_score_body(2, labels=[1, 0]))
    metrics = response.json()["metrics"]
    assert metrics["precision"] == 0.0 and metrics["recall"] == 0.0
    assert metrics["accuracy"] == 0.5


def test_labels_of_the_wrong_length_are_rejected(client: TestClient, engine: FakeEngine) -> None:
    item = _only_error(client.post("/anomaly/score", json=_score_body(2, labels=[1])))
    assert item["message"] == "labels has 1 entries for 2 records"
    assert engine.calls == []


def test_labels_length_mismatch_names_the_labels_field(client: TestClient) -> None:
    item = _only_error(client.post("/anomaly/score", json=_score_body(2, labels=[1])))
    assert item["field"] == "labels"


def test_labels_must_be_zero_or_one(client: TestClient, engine: FakeEngine) -> None:
    item = _only_error(client.post("/anomaly/score", json=_score_body(2, labels=[1, 2])))
    assert item["field"] == "labels[1]"
    assert engine.calls == []


def test_records_over_the_engine_limit_are_rejected(client: TestClient, engine: FakeEngine) -> None:
    assert client.post("/anomaly/score", json=_score_body(5)).status_code == 200
    engine.calls.clear()
    item = _only_error(client.post("/anomaly/score", json=_score_body(6)))
    assert item == {
        "field": "records",
        "message": "6 records is over the limit of 5 per request; split the batch",
    }
    assert engine.calls == []


def test_horizon_is_passed_to_the_engine_and_its_forecast_returned(
    client: TestClient, engine: FakeEngine
) -> None:
    response = client.post("/anomaly/score", json=_score_body(2, horizon=10))
    assert response.status_code == 200, response.text
    assert response.json()["forecast"] == {"features": [{"feature": "cpu", "forecast": []}]}
    assert engine.calls[-1][1].horizon == 10
    assert client.post("/anomaly/score", json=_score_body(2)).json()["forecast"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"records": []}, "records"),
        ({"entity": ""}, "entity"),
        ({"entity": "\x00position telemetry.metrics:0"}, "entity"),  # the engine's own rows
        ({"extra": 1}, "extra"),
        ({"records": [{"ts": 0, "values": ["x"]}]}, "records[0].values"),
        ({"records": [{"ts": 0, "values": [1], "value": 2}]}, "records[0].value"),
    ],
)
def test_invalid_score_requests_name_the_field(
    client: TestClient, engine: FakeEngine, change: dict[str, Any], field: str
) -> None:
    item = _only_error(client.post("/anomaly/score", json={**_score_body(1), **change}))
    assert item["field"] == field
    assert engine.calls == []


def test_non_finite_record_values_are_rejected(client: TestClient, engine: FakeEngine) -> None:
    body = json.dumps(_score_body(1)).replace("100.0", "NaN")
    response = client.post(
        "/anomaly/score", content=body, headers={"content-type": "application/json"}
    )
    item = _only_error(response)
    assert item["field"].startswith("records[0].values")
    assert engine.calls == []


def test_boolean_record_values_are_rejected(client: TestClient, engine: FakeEngine) -> None:
    body = _score_body(1)
    body["records"][0] = {"ts": True, "values": [True, 5.0]}
    _only_error(client.post("/anomaly/score", json=body))
    assert engine.calls == []


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (UnknownModel("no configuration for model 'x'"), 404, "no configuration for model 'x'"),
        (EngineUnavailable("the owner did not answer within 30 s"), 503, "the owner did not"),
    ],
)
def test_engine_errors_map_to_statuses(
    client: TestClient, engine: FakeEngine, error: Exception, status: int, detail: str
) -> None:
    engine.score_error = error
    response = client.post("/anomaly/score", json=_score_body())
    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)


def test_unavailable_engine_says_when_to_retry(client: TestClient, engine: FakeEngine) -> None:
    engine.score_error = EngineUnavailable("starting")
    response = client.post("/anomaly/score", json=_score_body())
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1


def test_invalid_input_from_the_engine_names_its_field(
    client: TestClient, engine: FakeEngine
) -> None:
    engine.score_error = InvalidInput(
        "values has 3 values but model expects 2", "records[0].values"
    )
    item = _only_error(client.post("/anomaly/score", json=_score_body()))
    assert item == {
        "field": "records[0].values",
        "message": "values has 3 values but model expects 2",
    }


def test_unexpected_engine_failure_is_a_generic_500(
    client: TestClient, engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.score_error = KeyError("secret-internal-detail")
    response = client.post("/anomaly/score", json=_score_body())
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the worker log has the details"}
    assert "secret-internal-detail" not in response.text
    assert "Traceback" not in response.text
    # ... while the operator finds it in the log
    assert "secret-internal-detail" in caplog.text


# --- GET /anomaly/alerts ----------------------------------------------------------------------


def test_alerts_default_query(client: TestClient, engine: FakeEngine) -> None:
    response = client.get("/anomaly/alerts")
    assert response.status_code == 200
    assert response.json() == {"alerts": engine.alerts, "count": 1}
    assert engine.calls == [
        ("query_alerts", {"model_id": None, "entity": None, "since": None, "limit": 100})
    ]


@pytest.mark.parametrize(
    "since",
    [
        "2026-11-27T08:00:00Z",
        "2026-11-27T09:00:00+01:00",
        "2026-11-27T08:00:00",
        "1795766400",
        "1795766400.0",
    ],
)
def test_alerts_filters_are_passed_through(
    client: TestClient, engine: FakeEngine, since: str
) -> None:
    params = {"model_id": "metrics-v1", "entity": "host-1", "since": since, "limit": 7}
    assert client.get("/anomaly/alerts", params=params).status_code == 200
    assert engine.calls[-1] == (
        "query_alerts",
        {"model_id": "metrics-v1", "entity": "host-1", "since": 1795766400.0, "limit": 7},
    )


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        (
            {"since": "yesterday"},
            "since",
            "since 'yesterday' is neither ISO-8601 nor epoch seconds",
        ),
        ({"since": "1795766400000"}, "since", "looks like milliseconds"),
        ({"since": "nan"}, "since", "finite"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 10_001}, "limit", "less than or equal to 10000"),
        ({"limit": "many"}, "limit", "integer"),
    ],
)
def test_bad_alert_queries(
    client: TestClient, engine: FakeEngine, params: dict[str, Any], field: str, fragment: str
) -> None:
    item = _only_error(client.get("/anomaly/alerts", params=params))
    assert item["field"] == field and fragment in item["message"]
    assert engine.calls == []


# --- health and schema -----------------------------------------------------------------------------


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == HEALTH


def test_openapi_shows_the_readme_example(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    request = schema["paths"]["/anomaly/config"]["post"]["requestBody"]["content"]
    ref = request["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert README_PAYLOAD in schema["components"]["schemas"][ref]["examples"]
    assert {"/anomaly/config", "/anomaly/score", "/anomaly/alerts", "/health"} <= set(
        schema["paths"]
    )


# ------------------------------------------------------------------------------------ feedback


def test_feedback_is_passed_to_the_engine_and_its_answer_returned(
    client: TestClient, engine: FakeEngine
) -> None:
    response = client.post("/anomaly/alerts/inc-7/feedback", json={"verdict": "false_positive"})
    assert response.status_code == 200, response.text
    assert response.json() == {**examples.FEEDBACK_OUT, "incident_id": "inc-7"}
    assert engine.calls == [("feedback", ("inc-7", "false_positive"))]
    assert engine.actors == ["loopback"]


def test_feedback_on_an_unknown_incident_is_404(client: TestClient, engine: FakeEngine) -> None:
    engine.incident_status["inc-9"] = "unknown"
    response = client.post("/anomaly/alerts/inc-9/feedback", json={"verdict": "false_positive"})
    assert response.status_code == 404
    assert response.json() == {"detail": "no incident 'inc-9'"}


def test_feedback_on_a_resolved_incident_is_409(client: TestClient, engine: FakeEngine) -> None:
    engine.incident_status["inc-3"] = "resolved"
    response = client.post("/anomaly/alerts/inc-3/feedback", json={"verdict": "false_positive"})
    assert response.status_code == 409
    assert "resolved at 2026-11-27T08:05:50.000Z" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"verdict": "true_positive"}, "verdict"),
        ({}, "verdict"),
        ({"verdict": "false_positive", "comment": "x"}, "comment"),
        ([], "body"),
    ],
)
def test_bad_feedback_is_422_naming_the_field_and_never_reaches_the_engine(
    client: TestClient, engine: FakeEngine, body: Any, field: str
) -> None:
    response = client.post("/anomaly/alerts/inc-7/feedback", json=copy.deepcopy(body))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field
    assert engine.calls == []


def test_feedback_from_another_machine_without_a_key_is_403(engine: FakeEngine) -> None:
    with TestClient(create_api(engine), client=("203.0.113.7", 40000)) as remote:
        response = remote.post("/anomaly/alerts/inc-7/feedback", json={"verdict": "false_positive"})
    assert response.status_code == 403


# ------------------------------------------------------------------------ seasonality


def _seasonal_config(seasonality: Any) -> dict[str, Any]:
    return {"configs": [{**README_PAYLOAD["configs"][0], "seasonality": seasonality}]}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("auto", {"period": "auto"}),
        ({"period": "auto"}, {"period": "auto"}),
        ({"period": 86400}, {"period": 86400.0, "bins": 48}),
        ({"period": 604800}, {"period": 604800.0, "bins": 168}),
        ({"period": 3600, "bins": 12}, {"period": 3600.0, "bins": 12}),
        (None, None),
    ],
)
def test_a_seasonality_is_stored_and_echoed_in_one_form(
    client: TestClient, engine: FakeEngine, given: Any, stored: Any
) -> None:
    response = client.post("/anomaly/config", json=_seasonal_config(given))
    assert response.status_code == 200, response.json()
    assert response.json()["configs"][0]["seasonality"] == stored
    sent = engine.calls[0][1][0]
    assert sent["seasonality"] == stored
    assert ModelConfig.from_dict(sent).spec(2).seasonality == stored  # what the workers run
    listed = client.get("/anomaly/config/metrics-v1").json()
    assert listed["seasonality"] == stored


def test_a_configuration_without_seasonality_echoes_none(client: TestClient) -> None:
    response = client.post("/anomaly/config", json=README_PAYLOAD)
    assert response.json()["configs"][0]["seasonality"] is None


@pytest.mark.parametrize(
    ("given", "field", "fragment"),
    [
        ({"period": -86400}, "seasonality.period", "must be a positive number of seconds"),
        ({"period": 0}, "seasonality.period", "must be a positive number of seconds"),
        ({"period": "daily"}, "seasonality.period", "or 'auto', got 'daily'"),
        ({"period": 35 * 86400}, "seasonality.period", "must be at most 2419200 seconds"),
        ({"period": 60, "bins": 120}, "seasonality.bins", "a period of 60 s holds at most 60"),
        ({"period": 86400, "bins": 1}, "seasonality.bins", "integer from 2 to 336"),
        ({"period": "auto", "bins": 48}, "seasonality.bins", "applies to a declared period"),
        ({"bins": 48}, "seasonality.period", "this field is required"),
        ({"period": 86400, "step": 60}, "seasonality.step", "unknown field"),
        ("weekly", "seasonality", 'must be "auto" or an object with a period'),
        (86400, "seasonality", 'must be "auto" or an object with a period'),
    ],
)
def test_a_bad_seasonality_is_a_422_naming_the_field(
    client: TestClient, engine: FakeEngine, given: Any, field: str, fragment: str
) -> None:
    response = client.post("/anomaly/config", json=_seasonal_config(given))
    body = response.json()
    assert response.status_code == 422, body
    assert body["detail"][0]["field"] == f"configs[0].{field}"
    assert fragment in body["detail"][0]["message"]
    assert engine.calls == []
