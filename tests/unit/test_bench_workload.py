"""The bench's messages are telemetry the engine accepts, of the size and form announced."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import murmur2

from api.schemas.config import ModelConfigIn
from api.schemas.score import ScoreIn
from app.telemetry.messages import decode_batch
from bench.score_api import request_body
from bench.workload import (
    README_CONFIG,
    START_TS,
    STEP_S,
    count_points,
    messages,
    score_records,
)
from incidents.config import ModelConfig


@pytest.fixture
def config() -> ModelConfig:
    return ModelConfig.from_dict(ModelConfigIn.model_validate(README_CONFIG).model_dump())


@pytest.mark.parametrize("batch", [1, 100, 1000])
def test_messages_decode_with_the_engine_s_own_decoder(config: ModelConfig, batch: int) -> None:
    sent = list(messages(6, batch, entities=3, seed=7))
    assert len(sent) == 6
    for i, (key, value) in enumerate(sent):
        payload = orjson.loads(value)
        decoded = decode_batch(payload, config, max_points=100_000)
        assert key.decode() == decoded.entity == f"bench-{i % 3:04d}"
        assert count_points(payload) == len(decoded.ts) == len(decoded.values) == batch
        assert all(len(point) == 2 for point in decoded.values)
        if batch > 1:  # columnar: one list per feature
            assert len(payload["values"]) == 2 and len(payload["values"][0]) == batch
        # an entity's points continue where its previous message stopped, 10 s apart
        first = START_TS + STEP_S * batch * (i // 3)
        assert decoded.ts[0] == first and decoded.ts[-1] == first + STEP_S * (batch - 1)


def test_messages_are_reproducible_and_spread_over_partitions() -> None:
    assert list(messages(50, 1, 20, seed=3)) == list(messages(50, 1, 20, seed=3))
    assert list(messages(5, 1, 5, seed=3)) != list(messages(5, 1, 5, seed=4))
    partitions = {(murmur2(key) & 0x7FFFFFFF) % 4 for key, _ in messages(100, 1, 100)}
    assert partitions == {0, 1, 2, 3}


def test_values_are_normal_around_the_readme_baseline() -> None:
    points = [orjson.loads(v)["values"] for _, v in messages(2000, 1, 10)]
    first = sorted(p[0] for p in points)
    second = sorted(p[1] for p in points)
    assert 99 < first[1000] < 101 and 4.8 < second[1000] < 5.2


def test_messages_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        list(messages(1, 0, 1))


def test_score_request_is_valid_for_the_api() -> None:
    request = ScoreIn.model_validate_json(request_body(1000, "host-1"))
    assert request.dry_run and len(request.records) == 1000
    assert score_records(3) == score_records(3)
    assert [r["ts"] for r in score_records(3)] == [START_TS, START_TS + 10, START_TS + 20]
