"""The dashboard's files and `GET /anomaly/series` over the fake engine."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api import create_api
from api.options import ApiOptions
from api.security import KeyRing
from api.ui import UI_DIR
from tests.unit.test_api import README_PAYLOAD, FakeEngine

READ_KEY = "ui-read-key-0123456789"


@pytest.fixture
def keyed() -> Iterator[tuple[TestClient, FakeEngine]]:
    engine = FakeEngine()
    engine.configs = {"metrics-v1": dict(README_PAYLOAD["configs"][0])}
    options = ApiOptions(keys=KeyRing.from_text("ui-admin-key-0123456789", READ_KEY))
    with TestClient(create_api(engine, options)) as client:
        yield client, engine


def test_the_dashboard_and_its_files_are_served_without_a_key(
    keyed: tuple[TestClient, FakeEngine],
) -> None:
    client, _ = keyed
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<h2 id="incidents-title">Incidents' in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/ui/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"], name
    assert client.get("/ui", follow_redirects=False).status_code in (301, 307)
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No CDN: every src and href of the page is relative (or an in-page link)."""
    for path in UI_DIR.iterdir():
        text = path.read_text().replace('"http://www.w3.org/2000/svg"', "")  # a name, not a load
        assert not re.search(r"https?://", text), f"{path.name} names an outside address"
        assert "innerHTML" not in text, f"{path.name} must not parse API text as HTML"


def test_the_dashboard_is_not_in_the_openapi_schema(keyed: tuple[TestClient, FakeEngine]) -> None:
    client, _ = keyed
    paths = client.get("/openapi.json").json()["paths"]
    assert "/anomaly/series" in paths
    assert not any(p.startswith("/ui") for p in paths) and "/" not in paths


def test_series_needs_a_read_key_when_keys_are_configured(
    keyed: tuple[TestClient, FakeEngine],
) -> None:
    client, engine = keyed
    params = {"model_id": "metrics-v1", "entity": "host-1"}
    assert client.get("/anomaly/series", params=params).status_code == 401
    response = client.get(
        "/anomaly/series", params=params, headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entity"] == "host-1" and body["points"][0]["incident_id"] == "inc-1"
    assert engine.calls[-1] == ("series", ("metrics-v1", "host-1", 300, 10))


def test_series_of_an_unknown_model_is_404_and_bad_queries_name_the_field() -> None:
    engine = FakeEngine()
    with TestClient(create_api(engine)) as client:
        missing = client.get("/anomaly/series", params={"model_id": "nope", "entity": "h"})
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]
        bad = client.get(
            "/anomaly/series", params={"model_id": "m", "entity": "h", "limit": 0}
        ).json()
        assert bad["detail"][0]["field"] == "limit"
        no_entity = client.get("/anomaly/series", params={"model_id": "m"}).json()
        assert no_entity["detail"][0]["field"] == "entity"
