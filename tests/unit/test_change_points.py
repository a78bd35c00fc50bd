"""A level that moves for good: the engine alerts for its first points, says "level shift" in the
incident, re-baselines, and resolves the incident once the new level is learned."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from incidents.config import ModelConfig
from incidents.scoring import score_batch


def _run(detector: str, values: np.ndarray, batch: int) -> tuple[list[int], list[dict[str, Any]]]:
    config = ModelConfig.from_dict({"model_id": "m", "detector": detector})
    ts = np.arange(len(values)) * 60.0
    state = entity_state = None
    alerts: list[int] = []
    events: list[dict[str, Any]] = []
    for start in range(0, len(values), batch):
        out = score_batch(
            config,
            "host-1",
            state,
            ts[start : start + batch].tolist(),
            values[start : start + batch, None].tolist(),
            entity_state=entity_state,
        )
        state = out.state
        entity_state = out.entity_state if out.entity_state is not None else entity_state
        alerts += [start + k for k, p in enumerate(out.points) if p.alert]
        events += out.events
    return alerts, events


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
@pytest.mark.parametrize("batch", [1, 7, 500])  # the one-point path and the block path
def test_a_level_shift_is_one_incident_that_names_it_and_resolves(
    detector: str, batch: int
) -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(100.0, 5.0, 2000)
    values[1440:] += 50.0
    alerts, events = _run(detector, values, batch)
    assert alerts and alerts[0] == 1440
    assert not [k for k in alerts if k > 1500], "the shift stops alerting once re-baselined"
    kinds = [e["event"] for e in events]
    assert kinds[0] == "open" and kinds[-1] == "resolve" and set(kinds[1:-1]) == {"update"}
    assert len({e["incident_id"] for e in events}) == 1
    resolved = events[-1]
    shifts = [e for e in events if "level shift" in e["summary"]]
    assert shifts and shifts[0]["event"] == "update"
    before, after = shifts[0]["summary"].split("level shift: ")[1].split(" → ")
    assert abs(float(before) - 100) < 3 and abs(float(after) - 150) < 5
    assert resolved["summary"] == shifts[0]["summary"]


def test_a_spike_after_the_shift_is_still_an_incident() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(100.0, 5.0, 2400)
    values[1440:] += 50.0
    values[2000] = 150.0 + 12 * 5.0
    alerts, events = _run("ewma", values, 100)
    assert 2000 in alerts
    assert [e["event"] for e in events].count("open") == 2
