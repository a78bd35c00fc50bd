"""``incidents.frozen.made`` skips a frozen dataclass's ``__init__``: its callers must give every
field, or a field added later with a default would be missing from the objects the hot path
builds. Scoring single points through an incident checks each call."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from incidents import pipeline
from incidents.config import ModelConfig
from incidents.frozen import made
from incidents.scoring import score_batch


def test_the_hot_path_gives_every_field_of_what_it_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, int] = {}

    def checked(cls: type[Any], fields: dict[str, Any]) -> Any:
        assert list(fields) == [f.name for f in dataclasses.fields(cls)], cls.__name__
        built[cls.__name__] = built.get(cls.__name__, 0) + 1
        return made(cls, fields)

    monkeypatch.setattr(pipeline, "made", checked)
    config = ModelConfig.from_dict({"model_id": "m", "detector": "zscore", "warmup": 5})
    state = None
    outcomes = []
    for k in range(60):
        value = 500.0 if k in (40, 41) else 100.0 + (k % 3)
        out = score_batch(config, "host-1", state, [60.0 * k], [[value]])
        state = out.state
        outcomes += out.points
    assert any(p.alert for p in outcomes)
    assert built.get("PointOutcome", 0) >= 60 and built.get("Observation", 0) >= 1
