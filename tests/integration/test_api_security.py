"""API keys, scopes, the body limit and the scoring rate on a real worker, over real HTTP.

The worker takes its keys from the environment, as `make run` does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from tests.integration.harness import README_CONFIG, EngineProcess, read_topic

ADMIN_KEY = "it-admin-key-6b0f4f7fd1e2a9c3"
READ_KEY = "it-read-key-0a7be3c95d14f862"
BODY_LIMIT = 64 * 1024
SCORE = {
    "model_id": "metrics-v1",
    "entity": "host-1",
    "dry_run": True,
    "records": [{"ts": 1795766400, "values": [100.0, 5.0]}],
}
JSON_TYPE = {"content-type": "application/json"}
KEYED_ENV = {
    "ANOMALY_ADMIN_KEY": ADMIN_KEY,
    "ANOMALY_READ_KEY": READ_KEY,
    "ANOMALY_MAX_BODY_BYTES": str(BODY_LIMIT),
    "ANOMALY_SCORE_RATE_PER_S": "0.01",
    "ANOMALY_SCORE_BURST": "3",
}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def request(
    worker: EngineProcess, method: str, path: str, key: str | None = None, **kwargs: Any
) -> httpx.Response:
    headers = {**(auth(key) if key else {}), **kwargs.pop("headers", {})}
    return httpx.request(method, worker.url + path, headers=headers, timeout=30, **kwargs)


def test_keys_scopes_and_limits_over_http(spawn: Callable[..., EngineProcess]) -> None:
    worker = spawn(env=KEYED_ENV)

    # open: health and the schema
    assert request(worker, "GET", "/health").status_code == 200
    assert (
        "bearer" in request(worker, "GET", "/openapi.json").json()["components"]["securitySchemes"]
    )

    # no key, or an unknown one: 401 with a Bearer challenge, on reads and writes alike
    for method, path, body in [
        ("GET", "/anomaly/config", None),
        ("GET", "/anomaly/alerts", None),
        ("POST", "/anomaly/score", SCORE),
        ("POST", "/anomaly/config", README_CONFIG),
    ]:
        for key in (None, "it-admin-key-6b0f4f7fd1e2a9c4"):
            refused = request(worker, method, path, key, json=body)
            assert refused.status_code == 401, (method, path, refused.text)
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")

    # a read key reads but cannot configure
    assert request(worker, "GET", "/anomaly/config", READ_KEY).json() == {"configs": []}
    forbidden = request(worker, "POST", "/anomaly/config", READ_KEY, json=README_CONFIG)
    assert forbidden.status_code == 403 and "admin key" in forbidden.json()["detail"]
    assert request(worker, "GET", "/anomaly/config", READ_KEY).json() == {"configs": []}

    # the admin key configures; the read key then sees it and scores with it
    applied = request(worker, "POST", "/anomaly/config", ADMIN_KEY, json=README_CONFIG)
    assert applied.status_code == 200, applied.text
    listed = request(worker, "GET", "/anomaly/config", READ_KEY).json()["configs"]
    assert [c["model_id"] for c in listed] == ["metrics-v1"]
    scored = request(worker, "POST", "/anomaly/score", READ_KEY, json=SCORE)
    assert scored.status_code == 200, scored.text
    assert scored.json()["results"][0]["is_anomaly"] is False

    # silences: admin only
    silence = {"matchers": {"entity": "host-9"}, "ends_at": "2030-01-01T00:00:00Z"}
    assert request(worker, "POST", "/anomaly/silences", READ_KEY, json=silence).status_code == 403
    created = request(worker, "POST", "/anomaly/silences", ADMIN_KEY, json=silence)
    assert created.status_code == 201, created.text
    path = f"/anomaly/silences/{created.json()['id']}"
    assert request(worker, "DELETE", path, READ_KEY).status_code == 403
    assert request(worker, "DELETE", path, ADMIN_KEY).status_code == 204

    # the body limit, declared and streamed
    big = b'{"configs": [' + b" " * BODY_LIMIT + b"]}"
    declared = request(worker, "POST", "/anomaly/config", ADMIN_KEY, content=big, headers=JSON_TYPE)
    assert declared.status_code == 413
    assert "ANOMALY_MAX_BODY_BYTES" in declared.json()["detail"]
    streamed = request(
        worker, "POST", "/anomaly/score", READ_KEY, content=chunks(big), headers=JSON_TYPE
    )
    assert streamed.status_code == 413 and "over the limit" in streamed.json()["detail"]

    # JSON nested without end is a 422 on the body
    nested = request(
        worker,
        "POST",
        "/anomaly/config",
        ADMIN_KEY,
        content="[" * 10_000 + "]" * 10_000,
        headers=JSON_TYPE,
    )
    assert nested.status_code == 422 and nested.json()["detail"][0]["field"] == "body"

    # the scoring rate: a burst of 3, two spent above (the scoring, and the streamed body,
    # admitted before it went past the limit), then 429 with Retry-After
    statuses = [request(worker, "POST", "/anomaly/score", READ_KEY, json=SCORE) for _ in range(2)]
    assert [r.status_code for r in statuses] == [200, 429]
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    # ... per key: the admin key has its own budget
    assert request(worker, "POST", "/anomaly/score", ADMIN_KEY, json=SCORE).status_code == 200

    # the start-up message says how to call the API; no key appears in the log
    log = worker.log_path.read_text(errors="replace")
    # (a JSON log line, the default when the log is not a terminal, escapes the quotes)
    assert 'curl -s -H "Authorization: Bearer $ANOMALY_ADMIN_KEY"' in log.replace('\\"', '"')
    assert ADMIN_KEY not in log and READ_KEY not in log


def chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    """A body without Content-Length: httpx sends it chunked."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_without_keys_writes_answer_loopback_clients_only(
    spawn: Callable[..., EngineProcess],
) -> None:
    worker = spawn()
    log = worker.log_path.read_text(errors="replace")
    assert "write endpoints answer loopback clients only" in log
    # A client behind a reverse proxy on this host: uvicorn takes its address from
    # X-Forwarded-For (trusted from loopback only), so it is not a loopback client.
    proxied = request(
        worker,
        "POST",
        "/anomaly/config",
        json=README_CONFIG,
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert proxied.status_code == 403
    assert "ANOMALY_ADMIN_KEY" in proxied.json()["detail"]
    assert request(worker, "GET", "/anomaly/config").json() == {"configs": []}
    # ... while a client on this machine may write, and anyone may read
    applied = request(worker, "POST", "/anomaly/config", json=README_CONFIG)
    assert applied.status_code == 200, applied.text
    remote_read = request(
        worker, "GET", "/anomaly/config", headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert [c["model_id"] for c in remote_read.json()["configs"]] == ["metrics-v1"]
    assert applied.json()["configs"][0]["model_version"] == "1.0"


def test_configuration_changes_are_audited_with_the_key_id(
    spawn: Callable[..., EngineProcess], bootstrap: str, names: dict[str, str]
) -> None:
    worker = spawn(env=KEYED_ENV)
    first = {"configs": [{**README_CONFIG["configs"][0], "model_version": "1.0"}]}
    second = {"configs": [{**README_CONFIG["configs"][0], "model_version": "2.0"}]}
    for body in (first, second):
        assert request(worker, "POST", "/anomaly/config", ADMIN_KEY, json=body).status_code == 200
    silence = {"matchers": {"entity": "host-1"}, "ends_at": "2099-01-01T00:00:00Z"}
    created = request(worker, "POST", "/anomaly/silences", ADMIN_KEY, json=silence).json()
    assert (
        request(worker, "DELETE", f"/anomaly/silences/{created['id']}", ADMIN_KEY).status_code
        == 204
    )

    records = read_topic(bootstrap, names["audit_topic"], lambda rs: len(rs) >= 4)
    audit = [r["value"] for r in records]
    key_id = hashlib.sha256(ADMIN_KEY.encode()).hexdigest()[:8]
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("config.apply", key_id),
        ("config.apply", key_id),
        ("silence.create", key_id),
        ("silence.delete", key_id),
    ]
    assert [(a.get("old_version"), a.get("new_version")) for a in audit[:2]] == [
        (None, "1.0"),
        ("1.0", "2.0"),
    ]
    assert audit[2]["silence_id"] == audit[3]["silence_id"] == created["id"]
    assert ADMIN_KEY not in json.dumps(audit)
