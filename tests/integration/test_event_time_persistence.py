"""Persistence in event time over the real worker's REST API: the same two flags, 8 points
apart, are noise for a key sampled every minute and an incident for one sampled every 5 minutes."""

from __future__ import annotations

from typing import Any

from tests.integration.harness import EngineProcess, wait_until

CONFIG = {
    "model_id": "timed",
    "detector": "zscore",
    "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
    "suppression": {"interval": 60},
}


def test_two_flags_eight_points_apart_page_a_5_minute_key_and_not_a_minute_key(
    spawn: Any,
) -> None:
    worker: EngineProcess = spawn()
    applied = worker.post("/anomaly/config", {"configs": [CONFIG]})
    assert applied.status_code in (200, 201), applied.text
    assert worker.get("/anomaly/config/timed").json()["suppression"]["interval"] == 60

    def score(entity: str, gap: float) -> list[int]:
        body = {
            "model_id": "timed",
            "entity": entity,
            "records": [
                {"ts": 1_700_000_000 + gap * k, "values": [117.5 if k in (10, 18) else 100.0]}
                for k in range(30)
            ],
        }

        def scored() -> dict[str, Any] | None:
            response = worker.post("/anomaly/score", body)
            if response.status_code == 404:  # the configuration is on its way to the view
                return None
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        reply = wait_until(scored, 60, "the worker to score with the configuration", 0.5)
        return [k for k, point in enumerate(reply["results"]) if point["alert"]]

    assert score("every-minute", 60.0) == []
    assert score("every-5-minutes", 300.0) == [18]

    def opened() -> list[dict[str, Any]] | None:
        mine = [a for a in worker.alerts(limit=100) if a["model_id"] == "timed"]
        return mine or None

    incidents = wait_until(opened, 60, "the 5-minute key's incident", 0.5)
    assert [a["entity"] for a in incidents] == ["every-5-minutes"]
