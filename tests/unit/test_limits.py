"""Request limits: the body size (declared and streamed), JSON nesting, non-JSON bodies, the
scoring rate per client, and no stack trace in any response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_api
from api.limits import BodyLimitMiddleware
from api.options import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_SCORE_BURST,
    DEFAULT_SCORE_RATE_PER_S,
    ApiOptions,
)
from api.security import KeyRing
from app.worker.settings import get_settings
from tests.unit.test_api import README_PAYLOAD, FakeEngine

LOOPBACK = ("127.0.0.1", 40000)
JSON = {"content-type": "application/json"}
SCORE = {"model_id": "metrics-v1", "entity": "host-1", "records": [{"ts": 1, "values": [1.0]}]}
BODY_ROUTES = ["/anomaly/config", "/anomaly/score", "/anomaly/silences"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(
    engine: FakeEngine | None = None, client: tuple[str, int] = LOOPBACK, **options: Any
) -> TestClient:
    api = create_api(engine or FakeEngine(), ApiOptions(**options))
    return TestClient(api, raise_server_exceptions=False, client=client)


# --- body size ---------------------------------------------------------------------------------


def asgi_request(
    app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[list[dict[str, Any]], int]:
    """Run one POST through ``app`` at the ASGI level; returns what it sent and how many body
    chunks it pulled."""
    sent: list[dict[str, Any]] = []
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        if pulled > len(chunks):
            return {"type": "http.disconnect"}
        return {
            "type": "http.request",
            "body": chunks[pulled - 1],
            "more_body": pulled < len(chunks),
        }

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/anomaly/score",
        "raw_path": b"/anomaly/score",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": LOOPBACK,
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return sent, pulled


def status_and_detail(sent: list[dict[str, Any]]) -> tuple[int, str]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)["detail"]


def test_a_declared_length_over_the_limit_is_413_before_any_body_is_read() -> None:
    engine = FakeEngine()
    app = create_api(engine, ApiOptions(max_body_bytes=1000))
    sent, pulled = asgi_request(app, [(b"content-length", b"5000")], [b"x" * 5000])
    status, detail = status_and_detail(sent)
    assert status == 413
    assert detail.startswith("the request body is over the limit of 1000 bytes")
    assert "ANOMALY_MAX_BODY_BYTES" in detail
    assert pulled == 0, "not one byte of the body may be read"
    assert engine.calls == []


def test_a_streamed_body_is_cut_off_at_the_first_chunk_past_the_limit() -> None:
    engine = FakeEngine()
    app = create_api(engine, ApiOptions(max_body_bytes=1000))
    chunks = [b"[" * 300] * 10  # 3,000 bytes, chunked: no Content-Length
    sent, pulled = asgi_request(app, [(b"transfer-encoding", b"chunked")], chunks)
    status, detail = status_and_detail(sent)
    assert status == 413 and "over the limit of 1000 bytes" in detail
    assert pulled == 4, "reading stops at the chunk that crosses the limit"
    assert len([m for m in sent if m["type"] == "http.response.start"]) == 1
    assert engine.calls == []


def test_a_streamed_body_under_the_limit_goes_through() -> None:
    engine = FakeEngine()
    app = create_api(engine, ApiOptions(max_body_bytes=1000))
    body = json.dumps(SCORE).encode()
    sent, _ = asgi_request(app, [], [body[:20], body[20:]])
    assert status_of(sent) == 200
    assert [name for name, _ in engine.calls] == ["score"]


def status_of(sent: list[dict[str, Any]]) -> int:
    return int(next(m for m in sent if m["type"] == "http.response.start")["status"])


def test_the_middleware_alone_counts_the_stream_and_replaces_the_apps_answer() -> None:
    """Whatever the application answers to the interrupted read, the client gets the 413."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception:
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"parse error"})

    sent, pulled = asgi_request(BodyLimitMiddleware(app, 10), [], [b"123456"] * 3)
    assert status_and_detail(sent)[0] == 413 and pulled == 2


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_over_the_limit_through_http_is_413_with_a_sentence(path: str) -> None:
    engine = FakeEngine()
    with make_client(engine, max_body_bytes=2048) as client:
        response = client.post(path, content=b" " * 2049, headers=JSON)
        at_limit = client.post(path, content=json.dumps(SCORE).ljust(2048), headers=JSON)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("the request body is over the limit")
    assert at_limit.status_code != 413
    assert engine.calls == [] or [c for c, _ in engine.calls] == ["score"]


def test_the_default_limit_takes_100k_points_in_their_bulkiest_form() -> None:
    """100,000 records of two named features with ISO timestamps and labels, pretty-printed,
    weigh about 18 MB: over 16 MiB, under the 32 MiB default."""
    n = 100_000
    records = [
        {
            "ts": f"2026-11-27T08:{i // 60 % 60:02d}:{i % 60:02d}.000000+00:00",
            "values": {"latency_ms": 100.123456789012 + i, "error_rate": 0.0123456789012345},
        }
        for i in range(n)
    ]
    body = json.dumps(
        {"model_id": "m", "entity": "e", "records": records, "labels": [i % 2 for i in range(n)]},
        indent=2,
    ).encode()
    assert 16 * 1024 * 1024 < len(body) < DEFAULT_MAX_BODY_BYTES
    assert get_settings().max_body_bytes == DEFAULT_MAX_BODY_BYTES
    engine = FakeEngine(max_points=n)
    with make_client(engine) as client:
        response = client.post("/anomaly/score", content=body, headers=JSON)
    assert response.status_code == 200, response.text[:300]
    assert len(engine.calls[0][1].records) == n


# --- JSON that is not an object, or nested without end -------------------------------------------


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize(
    "body",
    ["[" * 10_000 + "]" * 10_000, '{"a":' * 10_000 + "1" + "}" * 10_000, "[" * 100_000],
    ids=["arrays", "objects", "unclosed"],
)
def test_deep_nesting_is_a_422_on_body_not_a_crash(path: str, body: str) -> None:
    engine = FakeEngine()
    with make_client(engine) as client:
        response = client.post(path, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["field"] == "body"
    assert "nested too deeply" in item["message"] or "not valid JSON" in item["message"]
    assert "Recursion" not in response.text and "Traceback" not in response.text
    assert engine.calls == []


def test_ten_thousand_nested_arrays_say_why() -> None:
    with make_client() as client:
        response = client.post("/anomaly/config", content="[" * 10_000 + "]" * 10_000, headers=JSON)
    assert "nested too deeply" in response.json()["detail"][0]["message"]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"hello", {"content-type": "text/plain"}),
        (b"hello", {}),
        (b"", JSON),
        (b"[1, 2]", JSON),
        (b'"text"', JSON),
        (b"\xff\xfe\x00", JSON),
        (b"{configs:", JSON),
    ],
    ids=["text/plain", "no content type", "empty", "array", "string", "not utf-8", "broken"],
)
@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_body_that_is_not_a_json_object_is_a_422_on_body(
    path: str, content: bytes, headers: dict[str, str]
) -> None:
    engine = FakeEngine()
    with make_client(engine) as client:
        response = client.post(path, content=content, headers=headers)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["field"] == "body"
    assert "JSON" in item["message"]
    assert engine.calls == []


# --- types the schema does not allow -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/anomaly/score", {**SCORE, "dry_run": 0}, "dry_run"),
        ("/anomaly/score", {**SCORE, "dry_run": "yes"}, "dry_run"),
        ("/anomaly/score", {**SCORE, "horizon": True}, "horizon"),
        ("/anomaly/score", {**SCORE, "labels": [True]}, "labels"),
        ("/anomaly/score", {**SCORE, "entity": 7}, "entity"),
        ("/anomaly/silences", {"matchers": {"a": "b"}, "ends_at": False}, "ends_at"),
        (
            "/anomaly/silences",
            {"matchers": {"a": "b"}, "ends_at": 1, "starts_at": True},
            "starts_at",
        ),
        ("/anomaly/silences", {"matchers": {"a": 1}, "ends_at": 1}, "matchers.a"),
    ],
)
def test_wrong_types_are_not_coerced(path: str, body: dict[str, Any], field: str) -> None:
    """`dry_run: 0` is not false and `ends_at: false` is not 1970: both are refused."""
    engine = FakeEngine()
    with make_client(engine) as client:
        response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field
    assert engine.calls == []


def test_an_echoed_input_cannot_make_an_error_message_huge() -> None:
    payload = json.loads(json.dumps(README_PAYLOAD))
    payload["configs"][0]["params"]["mean"] = [json.loads("[" * 500 + "1" + "]" * 500), 5]
    with make_client() as client:
        response = client.post("/anomaly/config", json=payload)
    assert response.status_code == 422
    assert len(response.json()["detail"][0]["message"]) <= 500


# --- rate limit on scoring -----------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(clock: Clock) -> Iterator[tuple[TestClient, FakeEngine]]:
    engine = FakeEngine()
    with make_client(engine, score_rate_per_s=0.5, score_burst=3, clock=clock) as client:
        yield client, engine


def test_scoring_past_the_burst_is_429_with_retry_after(
    limited: tuple[TestClient, FakeEngine], clock: Clock
) -> None:
    client, engine = limited
    assert [client.post("/anomaly/score", json=SCORE).status_code for _ in range(3)] == [200] * 3
    refused = client.post("/anomaly/score", json=SCORE)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"  # one token at 0.5 per second
    detail = refused.json()["detail"]
    assert "too many scoring requests" in detail and "ANOMALY_SCORE_RATE_PER_S" in detail
    assert len(engine.calls) == 3
    clock.now += 1.0
    assert client.post("/anomaly/score", json=SCORE).headers["Retry-After"] == "1"
    clock.now += 1.0
    assert client.post("/anomaly/score", json=SCORE).status_code == 200


def test_a_refused_request_is_not_parsed(limited: tuple[TestClient, FakeEngine]) -> None:
    client, _ = limited
    for _ in range(3):
        client.post("/anomaly/score", json=SCORE)
    assert client.post("/anomaly/score", content="{broken", headers=JSON).status_code == 429


def test_retry_after_is_a_whole_number_of_at_least_one_second(clock: Clock) -> None:
    with make_client(score_rate_per_s=1000.0, score_burst=1, clock=clock) as client:
        client.post("/anomaly/score", json=SCORE)
        refused = client.post("/anomaly/score", json=SCORE)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"


def test_clients_have_their_own_buckets_by_address_without_keys(clock: Clock) -> None:
    engine = FakeEngine()
    api = create_api(engine, ApiOptions(score_rate_per_s=0.1, score_burst=1, clock=clock))
    with (
        TestClient(api, client=("10.0.0.1", 1)) as first,
        TestClient(api, client=("10.0.0.2", 1)) as second,
    ):
        assert first.post("/anomaly/score", json=SCORE).status_code == 200
        assert first.post("/anomaly/score", json=SCORE).status_code == 429
        assert second.post("/anomaly/score", json=SCORE).status_code == 200


def test_with_keys_the_bucket_is_the_keys_wherever_it_comes_from(clock: Clock) -> None:
    keys = KeyRing(read_keys=["reader-one-0123456789", "reader-two-0123456789"])
    api = create_api(
        FakeEngine(), ApiOptions(keys=keys, score_rate_per_s=0.1, score_burst=1, clock=clock)
    )
    one = {"Authorization": "Bearer reader-one-0123456789"}
    two = {"Authorization": "Bearer reader-two-0123456789"}
    with (
        TestClient(api, client=("10.0.0.1", 1)) as first,
        TestClient(api, client=("10.0.0.2", 1)) as second,
    ):
        assert first.post("/anomaly/score", json=SCORE, headers=one).status_code == 200
        assert second.post("/anomaly/score", json=SCORE, headers=one).status_code == 429
        assert second.post("/anomaly/score", json=SCORE, headers=two).status_code == 200
        # a request without a key is refused as unauthenticated, spending nobody's budget
        assert first.post("/anomaly/score", json=SCORE).status_code == 401


def test_only_scoring_is_rate_limited(clock: Clock) -> None:
    with make_client(score_rate_per_s=0.1, score_burst=1, clock=clock) as client:
        statuses = {client.get("/anomaly/alerts").status_code for _ in range(20)}
        statuses |= {
            client.post("/anomaly/config", json=README_PAYLOAD).status_code for _ in range(5)
        }
    assert statuses == {200}


def test_the_rate_settings_reach_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANOMALY_SCORE_RATE_PER_S", "2.5")
    monkeypatch.setenv("ANOMALY_SCORE_BURST", "7")
    monkeypatch.setenv("ANOMALY_MAX_BODY_BYTES", "4096")
    options = ApiOptions.from_settings(get_settings())
    assert (options.score_rate_per_s, options.score_burst, options.max_body_bytes) == (2.5, 7, 4096)


def test_the_api_defaults_are_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANOMALY_SCORE_RATE_PER_S", "ANOMALY_SCORE_BURST", "ANOMALY_MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert (settings.max_body_bytes, settings.score_rate_per_s, settings.score_burst) == (
        DEFAULT_MAX_BODY_BYTES,
        DEFAULT_SCORE_RATE_PER_S,
        DEFAULT_SCORE_BURST,
    )


# --- errors never carry a stack trace --------------------------------------------------------------


class LeakyEngine(FakeEngine):
    def list_configs(self) -> list[dict[str, Any]]:
        return [{"model_id": 'File "/secret/path.py", line 1'}]  # fails the response model

    def query_alerts(self, **_: Any) -> list[dict[str, Any]]:
        raise ZeroDivisionError("division by zero in /secret/path.py")


@pytest.mark.parametrize("path", ["/anomaly/config", "/anomaly/alerts"])
def test_unexpected_failures_are_a_generic_500(path: str) -> None:
    with make_client(LeakyEngine()) as client:
        response = client.get(path)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the worker log has the details"}


def test_method_not_allowed_names_every_method_of_the_path() -> None:
    with make_client() as client:
        response = client.put("/anomaly/config", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_an_unknown_query_parameter_is_a_422_naming_it() -> None:
    """A misspelt filter is refused instead of silently returning every alert."""
    engine = FakeEngine()
    with make_client(engine) as client:
        response = client.get("/anomaly/alerts", params={"modelid": "metrics-v1"})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["field"] == "modelid"
    assert "entity, limit, model_id, since" in item["message"]
    assert engine.calls == []
