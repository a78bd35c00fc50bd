"""API keys: every route against no key, a read key, an admin key and a wrong key, and the
no-key default (reads open, writes from loopback clients only)."""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_api
from api.options import ApiOptions
from api.security import KeyRing, usage_hint
from app.worker.settings import get_settings
from tests.unit.test_api import README_PAYLOAD, FakeEngine

ADMIN_KEY = "admin-key-4f1c9e0b7d2a6e35"
SECOND_ADMIN_KEY = "admin-key-two-7c1d02e9aa41"
READ_KEY = "read-key-b83e51f07a9c2d64"
WRONG_KEY = "read-key-b83e51f07a9c2d65"
ADMIN_ID = hashlib.sha256(ADMIN_KEY.encode()).hexdigest()[:8]

LOOPBACK = ("127.0.0.1", 40000)
LOOPBACK_V6 = ("::1", 40000)
REMOTE = ("203.0.113.7", 40000)

STATS = {
    "points": 3,
    "anomalies": 1,
    "alerts": 1,
    "incidents_opened": 1,
    "incidents_resolved": 0,
    "suppressed": {},
}
SILENCE = {"matchers": {"entity": "host-1"}, "ends_at": "2026-12-31T00:00:00Z"}
SCORE = {"model_id": "metrics-v1", "entity": "host-1", "records": [{"ts": 1, "values": [1.0]}]}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: dict[str, Any] | None
    scope: str  # "read" or "admin"
    ok: int  # the status of a well-formed, admitted request

    def call(self, client: TestClient, headers: dict[str, str] | None = None) -> Any:
        return client.request(self.method, self.path, json=self.body, headers=headers or {})

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("GET", "/anomaly/config", None, "read", 200),
    Route("GET", "/anomaly/config/metrics-v1", None, "read", 200),
    Route("GET", "/anomaly/alerts", None, "read", 200),
    Route("GET", "/anomaly/silences", None, "read", 200),
    Route("GET", "/anomaly/stats", None, "read", 200),
    Route("GET", "/anomaly/stats/metrics-v1", None, "read", 200),
    Route("POST", "/anomaly/score", SCORE, "read", 200),
    Route("POST", "/anomaly/config", README_PAYLOAD, "admin", 200),
    Route("POST", "/anomaly/silences", SILENCE, "admin", 201),
    Route("DELETE", "/anomaly/silences/sil-1", None, "admin", 204),
    Route("POST", "/anomaly/alerts/inc-1/feedback", {"verdict": "false_positive"}, "admin", 200),
]
OPEN_PATHS = ["/health", "/docs", "/openapi.json"]


def seeded_engine() -> FakeEngine:
    """An engine where every route's well-formed request succeeds."""
    engine = FakeEngine()
    engine.configs["metrics-v1"] = {**README_PAYLOAD["configs"][0], "updated_at": None}
    engine.stats["metrics-v1"] = STATS
    engine.silences["sil-1"] = {
        "id": "sil-1",
        "matchers": {"entity": "host-1"},
        "starts_at": "2026-11-27T00:00:00Z",
        "ends_at": "2026-12-31T00:00:00Z",
        "active": True,
    }
    return engine


def keyed_options() -> ApiOptions:
    return ApiOptions(
        keys=KeyRing.from_text(f"{ADMIN_KEY}, {SECOND_ADMIN_KEY}", READ_KEY),
        score_rate_per_s=1000.0,
        score_burst=1000,
    )


def client_for(
    options: ApiOptions, client: tuple[str, int] = REMOTE
) -> tuple[TestClient, FakeEngine]:
    engine = seeded_engine()
    return TestClient(create_api(engine, options), raise_server_exceptions=False, client=client), (
        engine
    )


@pytest.fixture
def keyed() -> Iterator[tuple[TestClient, FakeEngine]]:
    test_client, engine = client_for(keyed_options())
    with test_client:
        yield test_client, engine


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def engine_was_called(engine: FakeEngine) -> bool:
    return bool(engine.calls) or bool(engine.actors)


# --- keys configured ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_without_a_key_every_protected_route_is_401_with_a_bearer_challenge(
    keyed: tuple[TestClient, FakeEngine], route: Route
) -> None:
    client, engine = keyed
    response = route.call(client)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["detail"]
    assert not engine_was_called(engine)


@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize(
    "header",
    [f"Bearer {WRONG_KEY}", f"Basic {READ_KEY}", "Bearer", "Bearer  ", READ_KEY],
    ids=["unknown key", "basic scheme", "no token", "blank token", "no scheme"],
)
def test_a_wrong_key_is_401(
    keyed: tuple[TestClient, FakeEngine], route: Route, header: str
) -> None:
    client, engine = keyed
    response = route.call(client, {"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert not engine_was_called(engine)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_read_key_reads_and_scores_but_gets_403_on_writes(
    keyed: tuple[TestClient, FakeEngine], route: Route
) -> None:
    client, engine = keyed
    response = route.call(client, bearer(READ_KEY))
    if route.scope == "read":
        assert response.status_code == route.ok, response.text
    else:
        assert response.status_code == 403, response.text
        detail = response.json()["detail"]
        assert "needs an admin key" in detail
        assert READ_KEY not in detail
        assert not engine_was_called(engine)


@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("key", [ADMIN_KEY, SECOND_ADMIN_KEY], ids=["first", "second"])
def test_an_admin_key_may_call_everything(
    keyed: tuple[TestClient, FakeEngine], route: Route, key: str
) -> None:
    client, _ = keyed
    assert route.call(client, bearer(key)).status_code == route.ok


@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("address", [LOOPBACK, LOOPBACK_V6], ids=["ipv4", "ipv6"])
def test_loopback_has_no_privilege_once_keys_are_configured(
    route: Route, address: tuple[str, int]
) -> None:
    test_client, engine = client_for(keyed_options(), address)
    with test_client:
        assert route.call(test_client).status_code == 401
    assert not engine_was_called(engine)


@pytest.mark.parametrize("path", OPEN_PATHS)
@pytest.mark.parametrize("headers", [{}, bearer(WRONG_KEY)], ids=["no key", "wrong key"])
def test_health_and_docs_stay_open(
    keyed: tuple[TestClient, FakeEngine], path: str, headers: dict[str, str]
) -> None:
    client, _ = keyed
    assert client.get(path, headers=headers).status_code == 200


def test_writes_record_the_admin_key_id_never_the_key(
    keyed: tuple[TestClient, FakeEngine], caplog: pytest.LogCaptureFixture
) -> None:
    client, engine = keyed
    caplog.set_level(logging.DEBUG)
    for route in ROUTES:
        for headers in ({}, bearer(READ_KEY), bearer(ADMIN_KEY), bearer(WRONG_KEY)):
            route.call(client, headers)
    assert engine.actors == [ADMIN_ID] * 4  # config, silence, delete, feedback
    for key in (ADMIN_KEY, SECOND_ADMIN_KEY, READ_KEY, WRONG_KEY):
        assert key not in caplog.text


def test_refusal_comes_before_the_body_is_parsed(keyed: tuple[TestClient, FakeEngine]) -> None:
    """An unauthenticated caller cannot make the engine parse or validate its body."""
    client, engine = keyed
    junk = {"content": "{not json", "headers": {"content-type": "application/json"}}
    assert client.post("/anomaly/config", **junk).status_code == 401  # type: ignore[arg-type]
    forbidden = client.post(
        "/anomaly/config",
        content="{not json",
        headers={"content-type": "application/json", **bearer(READ_KEY)},
    )
    assert forbidden.status_code == 403
    invalid = client.post(
        "/anomaly/config",
        content="{not json",
        headers={"content-type": "application/json", **bearer(ADMIN_KEY)},
    )
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["field"] == "body"
    assert not engine_was_called(engine)


def test_only_hashes_of_the_keys_are_kept() -> None:
    options = keyed_options()
    kept = pickle.dumps(options.keys)
    for key in (ADMIN_KEY, SECOND_ADMIN_KEY, READ_KEY):
        assert key.encode() not in kept
    assert options.keys.ids("admin") == sorted(
        hashlib.sha256(k.encode()).hexdigest()[:8] for k in (ADMIN_KEY, SECOND_ADMIN_KEY)
    )


def test_keys_come_from_the_environment_as_comma_separated_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANOMALY_ADMIN_KEY", f" {ADMIN_KEY} ,{SECOND_ADMIN_KEY}")
    monkeypatch.setenv("ANOMALY_READ_KEY", READ_KEY)
    settings = get_settings()
    assert ADMIN_KEY not in repr(settings) and READ_KEY not in repr(settings)
    ring = ApiOptions.from_settings(settings).keys
    assert ring.identify(ADMIN_KEY) is not None and ring.identify(SECOND_ADMIN_KEY) is not None
    assert ring.identify(READ_KEY) == (
        hashlib.sha256(READ_KEY.encode()).hexdigest()[:8],
        frozenset({"read"}),
    )
    assert ring.identify(f" {ADMIN_KEY}") is None


def test_with_read_keys_only_writes_say_no_admin_key_is_configured() -> None:
    test_client, _ = client_for(ApiOptions(keys=KeyRing(read_keys=[READ_KEY])), LOOPBACK)
    with test_client:
        response = test_client.post(
            "/anomaly/config", json=README_PAYLOAD, headers=bearer(READ_KEY)
        )
    assert response.status_code == 403
    assert "no admin key is configured (ANOMALY_ADMIN_KEY)" in response.json()["detail"]


# --- no key configured: reads open, writes loopback only -----------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("address", [LOOPBACK, LOOPBACK_V6, REMOTE], ids=["v4", "v6", "remote"])
def test_without_keys_reads_are_open_and_writes_answer_loopback_only(
    route: Route, address: tuple[str, int]
) -> None:
    test_client, engine = client_for(ApiOptions(), address)
    with test_client:
        response = route.call(test_client)
    if route.scope == "read" or address != REMOTE:
        assert response.status_code == route.ok, response.text
    else:
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert "127.0.0.1" in detail and "ANOMALY_ADMIN_KEY" in detail
        assert not engine_was_called(engine)
    if route.scope == "admin" and address != REMOTE:
        assert engine.actors == ["loopback"]


def test_ipv4_mapped_loopback_counts_as_loopback() -> None:
    test_client, engine = client_for(ApiOptions(), ("::ffff:127.0.0.1", 1))
    with test_client:
        assert test_client.post("/anomaly/config", json=README_PAYLOAD).status_code == 200


def test_the_start_up_hint_names_the_variable_never_the_key() -> None:
    hint = usage_hint(keyed_options().keys, "http://127.0.0.1:8000")
    assert "Authorization: Bearer $ANOMALY_ADMIN_KEY" in hint
    assert ADMIN_KEY not in hint and READ_KEY not in hint
    assert "loopback" in usage_hint(KeyRing(), "http://127.0.0.1:8000")


# --- the OpenAPI schema ------------------------------------------------------------------------


def test_openapi_declares_bearer_security_and_the_refusals() -> None:
    test_client, _ = client_for(keyed_options())
    schema = test_client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearer"]["description"],
    }
    for route in ROUTES:
        path = (
            route.path.replace("metrics-v1", "{model_id}")
            .replace("sil-1", "{silence_id}")
            .replace("inc-1", "{incident_id}")
        )
        operation = schema["paths"][path][route.method.lower()]
        assert operation["security"] == [{"bearer": []}], route
        assert "401" in operation["responses"], route
        assert ("403" in operation["responses"]) == (route.scope == "admin"), route
        assert ("413" in operation["responses"]) == (route.body is not None), route
        assert ("429" in operation["responses"]) == (route.path == "/anomaly/score"), route
    retry = schema["paths"]["/anomaly/score"]["post"]["responses"]["429"]["headers"]
    assert retry["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert "security" not in schema["paths"]["/health"]["get"]
