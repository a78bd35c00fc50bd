"""`POST /anomaly/score` as columns: plain records are checked in one pass, the answer is encoded
from the worker's columns, and both say exactly what the per-record path said."""

from __future__ import annotations

import gc
import json
import math
import time
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api import create_api
from api.engine import ScoreCommand
from api.options import ApiOptions
from api.records import RecordColumns, columns_batch, record_columns
from api.routing import parse_json
from api.schemas.score import PointOut, RecordIn, ScoreOut
from api.score_reply import CHUNK, result_points, score_reply
from app.telemetry.messages import records_to_batch
from bench.score_api import server_timing_ms
from incidents.config import ModelConfig
from incidents.outcome import points_from_columns
from incidents.points import TelemetryError
from incidents.scoring import score_batch

CONFIG = ModelConfig(
    "metrics-v1", "1", "zscore", params={"mean": [100.0, 5.0], "std": [5.0, 1.0], "threshold": 1.5}
)

numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.sampled_from(["1", "x"]),
)
times = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["2026-11-27T08:00:00Z", "2026-11-27T09:00:00+01:00", "1795766400.5", "x"]),
    st.booleans(),
    st.none(),
)


def _records(width: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    record = st.fixed_dictionaries(
        {"ts": times, "values": st.lists(numbers, min_size=width, max_size=width)},
        optional={"label": st.just(1)},
    )
    return st.lists(record, min_size=0, max_size=4)


# mostly one width for all records (else the per-record path runs anyway)
records = st.one_of(st.integers(0, 3).flatmap(_records), _records(2) | st.lists(st.integers()))


def _slow(raw: list[dict[str, Any]]) -> tuple[list[float], list[list[float]]] | None:
    """What the per-record path makes of ``raw``: None when it refuses it."""
    try:
        checked = [RecordIn.model_validate(r).model_dump() for r in raw]
        batch = records_to_batch(checked, ModelConfig("m", "1", "zscore"), "e")
    except (ValidationError, TelemetryError):
        return None
    return batch.ts, batch.values


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
@example([{"ts": 0, "values": [math.nan]}])
@example([{"ts": 0, "values": [1.0]}, {"ts": 1, "values": [-math.inf]}])
@example([{"ts": 0, "values": [True]}])
@example([{"ts": False, "values": [1]}])
@example([{"ts": 1795766400000, "values": [1]}])
@example([{"ts": 0, "values": [10**400]}])
@example([{"ts": 0, "values": [1], "label": 1}])
@example([{"ts": 0, "value": [1]}])
def test_columns_take_only_what_the_per_record_path_takes_and_read_it_the_same(
    raw: list[dict[str, Any]],
) -> None:
    columns = record_columns(raw)
    if columns is None:
        return  # the per-record path runs, as before
    slow = _slow(raw)
    assert slow is not None, raw
    ts, values = slow
    assert columns.ts.tolist() == ts
    same = [
        [a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(x, y, strict=True)]
        for x, y in zip(columns.values.tolist(), values, strict=True)
    ]
    assert all(all(row) for row in same), (columns.values, values)


def test_plain_records_with_gaps_and_iso_times_are_columns() -> None:
    raw = [
        {"ts": "2026-11-27T08:00:00Z", "values": [101, None]},
        {"ts": 1795766410, "values": [99.5, 5.0]},
    ]
    columns = record_columns(raw)
    assert isinstance(columns, RecordColumns)
    assert columns.ts.tolist() == [1795766400.0, 1795766410.0]
    assert list(columns) == [
        {"ts": 1795766400.0, "values": [101.0, None]},
        {"ts": 1795766410.0, "values": [99.5, 5.0]},
    ]


def test_columns_of_the_wrong_width_are_refused_as_records_are() -> None:
    raw = [{"ts": 0, "values": [1.0, 2.0, 3.0]}]
    columns = record_columns(raw)
    assert columns is not None
    with pytest.raises(TelemetryError) as fast:
        columns_batch(columns, CONFIG, "e")
    with pytest.raises(TelemetryError) as slow:
        records_to_batch(raw, CONFIG, "e")
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": [1, 2.5, null, true, "x"]}',
        b"[NaN, Infinity, -Infinity]",
        b"1e400",
        b'"\\ud800"',
        b"123456789012345678901234567890",
        b"-9223372036854775809",
        b"\xef\xbb\xbf{}",
        b'{"a": 1, "a": 2}',
    ],
)
def test_bodies_parse_as_the_standard_library_parses_them(body: bytes) -> None:
    expected = json.loads(body)
    parsed = parse_json(body)
    assert repr(parsed) == repr(expected)
    assert type(parsed) is type(expected)


class OneEngine:
    """Scores with the real scoring code, in process; returns the worker's columns."""

    max_points_per_request = 100_000

    def __init__(self) -> None:
        self.commands: list[ScoreCommand] = []

    async def score(self, command: ScoreCommand) -> dict[str, Any]:
        self.commands.append(command)
        if isinstance(command.records, RecordColumns):
            batch = columns_batch(command.records, CONFIG, command.entity)
        else:
            batch = records_to_batch(command.records, CONFIG, command.entity)
        out = score_batch(CONFIG, command.entity, None, batch.ts, batch.values, learn=True)
        return {
            "model_version": "1",
            "points_seen": out.points_seen,
            "columns": out.columns(),
            "incidents": out.events,
            "insights": None,
        }


def _spiky(n: int) -> list[dict[str, Any]]:
    spikes = {5, 6, 7, 30, n - 1}
    return [
        {"ts": 1795766400 + 10 * i, "values": [160.0 if i in spikes else 100.0 + i % 3, 5.0]}
        for i in range(n)
    ]


def test_the_answer_is_what_the_per_point_models_gave() -> None:
    raw = _spiky(40)
    out = score_batch(
        CONFIG, "host-1", None, [r["ts"] for r in raw], [r["values"] for r in raw], learn=True
    )
    columns = out.columns()
    assert any(extra for _, extra in columns["extra"])  # root causes, an incident id
    common = {
        "model_id": "metrics-v1",
        "model_version": "1",
        "entity": "host-1",
        "dry_run": False,
        "points_seen": 0,
        "incidents": out.events,
        "metrics": None,
        "forecast": None,
    }
    points = [PointOut(**p) for p in points_from_columns(columns)]
    per_point = ScoreOut(**common, anomalies=sum(p.is_anomaly for p in points), results=points)
    head = ScoreOut(**common, anomalies=sum(columns["is_anomaly"]), results=[])
    assert orjson.loads(score_reply(head, columns)) == per_point.model_dump(mode="json")


@pytest.fixture
def engine() -> OneEngine:
    return OneEngine()


@pytest.fixture
def client(engine: OneEngine) -> TestClient:
    return TestClient(create_api(engine, ApiOptions(score_rate_per_s=1000, score_burst=1000)))


def test_a_bad_value_deep_in_a_large_request_is_named(
    client: TestClient, engine: OneEngine
) -> None:
    body = {"model_id": "metrics-v1", "entity": "host-1", "records": _spiky(10_000)}
    body["records"][9_999]["values"][1] = "5"
    response = client.post("/anomaly/score", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": "records[9999].values", "message": "values[1] must be a number or null, got '5'"}
    ]
    assert engine.commands == []


def test_a_large_plain_request_scores_as_columns_with_its_labels(
    client: TestClient, engine: OneEngine
) -> None:
    raw = _spiky(2_000)
    labels = [1 if r["values"][0] == 160.0 else 0 for r in raw]
    body = {"model_id": "metrics-v1", "entity": "host-1", "records": raw, "labels": labels}
    response = client.post("/anomaly/score", json=body)
    assert response.status_code == 200, response.text[:300]
    assert isinstance(engine.commands[0].records, RecordColumns)
    out = response.json()
    assert [r["ts"] for r in out["results"]] == [float(r["ts"]) for r in raw]
    assert out["anomalies"] == sum(r["is_anomaly"] for r in out["results"]) > 0
    assert out["metrics"]["points"] == 2_000 and out["metrics"]["tp"] > 0
    assert out["incidents"][0]["event"] == "open"
    assert response.headers["content-type"] == "application/json"


def test_the_answer_says_how_long_the_server_took(client: TestClient) -> None:
    body = {"model_id": "metrics-v1", "entity": "host-1", "records": _spiky(1_000)}
    started = time.perf_counter()
    response = client.post("/anomaly/score", json=body)
    elapsed_ms = 1000 * (time.perf_counter() - started)
    assert response.status_code == 200
    took = server_timing_ms(response.headers["server-timing"])
    assert took is not None and 0 < took <= elapsed_ms


def _as_columns(raw: list[dict[str, Any]]) -> dict[str, Any]:
    width = len(raw[0]["values"])
    return {
        "ts": [r["ts"] for r in raw],
        "values": [[r["values"][j] for r in raw] for j in range(width)],
    }


def test_records_sent_as_columns_get_the_answer_of_the_same_records_as_points(
    client: TestClient, engine: OneEngine
) -> None:
    raw = _spiky(300)
    raw[7]["values"][1] = None  # a gap
    raw[8]["ts"] = "2026-11-27T08:01:20Z"
    labels = [1 if r["values"][0] == 160.0 else 0 for r in raw]
    common = {"model_id": "metrics-v1", "entity": "host-1", "labels": labels, "dry_run": True}
    as_points = client.post("/anomaly/score", json={**common, "records": raw})
    as_columns = client.post("/anomaly/score", json={**common, "records": _as_columns(raw)})
    assert as_points.status_code == as_columns.status_code == 200, as_columns.text[:300]
    assert as_columns.json() == as_points.json()
    assert engine.commands[0].records == engine.commands[1].records


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (
            {"ts": [0, 10], "values": [[1.0, 2.0], [5.0]]},
            "records.values[1] has 1 values for 2 times",
        ),
        (
            {"ts": [0, 10], "values": [[1.0, 2.0], [5.0, "5"]]},
            "records.values[1][1] must be a finite number or null, got '5'",
        ),
        (
            {"ts": [0, True], "values": [[1.0, 2.0]]},
            "records.ts[1] must be epoch seconds or ISO-8601 text, got True",
        ),
        ({"ts": [0], "values": [[1.0]], "labels": [1]}, "the columnar form of records is"),
        ({"ts": [], "values": [[1.0]]}, "records.ts must be a non-empty list of times"),
    ],
)
def test_a_wrong_entry_of_the_columns_is_named(
    client: TestClient, engine: OneEngine, records: dict[str, Any], message: str
) -> None:
    body = {"model_id": "metrics-v1", "entity": "host-1", "records": records}
    response = client.post("/anomaly/score", json=body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "records" and error["message"].startswith(message)
    assert engine.commands == []


def test_the_answer_as_columns_holds_what_the_points_say(client: TestClient) -> None:
    raw = _spiky(300)
    common = {"model_id": "metrics-v1", "entity": "host-1", "dry_run": True}
    points = client.post("/anomaly/score", json={**common, "records": raw}).json()
    answer = client.post(
        "/anomaly/score",
        json={**common, "records": _as_columns(raw), "results_as": "columns"},
    ).json()
    assert answer["results"] == [] and points["columns"] is None
    assert points_from_columns(answer["columns"]) == [
        PointOut(**p).model_dump() for p in points["results"]
    ]
    assert {k: v for k, v in answer.items() if k not in ("results", "columns")} == {
        k: v for k, v in points.items() if k not in ("results", "columns")
    }


@pytest.mark.parametrize("n", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7])
def test_the_answer_encoded_in_chunks_is_the_bytes_of_one_object_per_point(n: int) -> None:
    rng = np.random.default_rng(n)
    flags = (rng.random(n) < 0.1).tolist()
    columns: dict[str, Any] = {
        "ts": (1795766400.0 + 10 * np.arange(n)).tolist(),
        "score": [None if k % 97 == 3 else x for k, x in enumerate(rng.normal(size=n).tolist())],
        "threshold": rng.uniform(2, 4, n).tolist(),
        "is_anomaly": flags,
        "warm": [k > 5 for k in range(n)],
        "alert": [f and k % 2 == 0 for k, f in enumerate(flags)],
        "extra": [
            [k, {"suppressed_by": "warmup"}]
            if k < 5
            else [k, {"incident_id": f"inc-{k}", "root_cause": "cpu 160", "correlated": [{"r": 1}]}]
            for k in sorted({*range(min(n, 5)), *(k for k in range(n) if flags[k])})
        ],
    }
    head = ScoreOut(
        model_id="m", model_version="1", entity='e "results":[] "results\\":[]', dry_run=True, points_seen=0,
        anomalies=sum(flags), results=[], incidents=[{"id": "inc-1", "summary": '"results":[]'}],
    )  # fmt: skip
    per_point = head.model_dump(mode="json")
    per_point["results"] = result_points(columns)
    assert score_reply(head, columns) == orjson.dumps(per_point)


def test_a_large_request_leaves_the_heap_frozen_at_start_frozen(client: TestClient) -> None:
    """A worker freezes its start-up heap out of the collector (app.worker.gc_policy); a large
    request must not put it back into the full collections."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        body = {"model_id": "metrics-v1", "entity": "host-1", "records": _spiky(30_000)}
        response = client.post("/anomaly/score", json=body)
        assert response.status_code == 200
        assert len(response.json()["results"]) == 30_000
        assert gc.get_freeze_count() > frozen * 0.9  # a few frozen objects were freed since
    finally:
        gc.unfreeze()
