"""The recommended model over the real worker's REST API: a configuration without ``detector``,
a level shift scored through ``POST /anomaly/score``, the incident that names it."""

from __future__ import annotations

from typing import Any

from app.scenarios import judge, scenario
from tests.integration.harness import EngineProcess, wait_until


def test_a_config_without_detector_alerts_on_a_level_shift_names_it_and_goes_quiet(
    spawn: Any,
) -> None:
    worker: EngineProcess = spawn()
    applied = worker.post("/anomaly/config", {"configs": [{"model_id": "rec"}]})
    assert applied.status_code in (200, 201), applied.text
    stored = worker.get("/anomaly/config/rec").json()
    assert stored["detector"] == "adaptive" and stored["cooldown"] == 21600

    made = scenario("level_shift", 7)
    body = {
        "model_id": "rec",
        "entity": "host-1",
        "records": [{"ts": t, "values": [v]} for t, v in zip(made.ts, made.values, strict=True)],
    }

    def scored() -> dict[str, Any] | None:
        response = worker.post("/anomaly/score", body)
        if response.status_code == 404:  # the configuration is on its way to the worker's view
            return None
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    reply = wait_until(scored, 60, "the worker to score with the new configuration", 0.5)
    points = reply["results"]
    assert len(points) == len(made.values)
    verdict = judge(made, [p["alert"] for p in points])
    assert verdict.passed, verdict.reason

    def shifted() -> dict[str, Any] | None:
        named = [a for a in worker.alerts(limit=100) if "level shift" in (a.get("summary") or "")]
        return named[0] if named else None

    incident = wait_until(shifted, 60, "the incident to say 'level shift'", 0.5)
    assert incident["entity"] == "host-1" and incident["model_id"] == "rec"
    assert incident["status"] == "resolved"  # the new level was learned
