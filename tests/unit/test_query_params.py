"""Query parameters: a single-valued one given twice is refused, not silently half-ignored."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api import create_api
from tests.unit.test_api import FakeEngine


def test_a_filter_given_twice_is_refused_naming_it() -> None:
    engine = FakeEngine()
    with TestClient(create_api(engine)) as client:
        twice = client.get("/anomaly/alerts?model_id=a&model_id=b")
        once = client.get("/anomaly/alerts?model_id=b&entity=host-1")
    assert twice.status_code == 422
    assert twice.json() == {
        "detail": [
            {
                "field": "model_id",
                "message": "query parameter 'model_id' is given more than once; give it once",
            }
        ]
    }
    assert once.status_code == 200
    queried = [args for name, args in engine.calls if name == "query_alerts"]
    assert queried == [{"model_id": "b", "entity": "host-1", "since": None, "limit": 100}]
