"""entity_state rows written by earlier versions (at 2ce1a74 all of it unpacked: full events, full
incident signals, insights as plain numbers; at 0b08944 the first packed layout, with the
threshold history, signal buckets and trend times as plain numbers; at 9065689 the layout before
the sparse floats, float32 profile offsets and the referred events' defaults) load and go on
exactly as the row this version writes for the same input: same replayed events, same scores,
decisions and incidents (the recommended model's row of 9065689: the same alerts and incidents,
its float64 profile offsets rounded to float32 as this version keeps them)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.schemas.config import ModelConfigIn
from app.worker.entity_record import EntityRecord, source_key
from bench.memory import warmed_row
from bench.workload import MODEL_ID, README_CONFIG, START_TS, STEP_S, normal_values
from incidents.config import ModelConfig
from incidents.incident import Signal
from incidents.lifecycle import EntityIncidents
from incidents.observation import LifecycleSpec, Observation
from incidents.scoring import score_batch

# Written by bench.memory.warmed_row at commit 2ce1a74, before rows were packed: an open
# incident, and the events of three messages (open, update, update) kept for replays, in full,
# as they were published. The same key written by the same function at 0b08944 (the first
# packed layout) and at 9065689 (before the referred events' defaults, the summaries said by
# the signals and the signal means as packed decimals).
OLD = ("2ce1a74", "0b08944", "9065689")
SOURCE = source_key("telemetry.metrics", 0)


def _config() -> ModelConfig:
    return ModelConfig.from_dict(ModelConfigIn.model_validate(README_CONFIG).model_dump())


def _old(commit: str) -> tuple[str, int, dict[str, Any]]:
    fixture = json.loads((Path(__file__).parent / "data" / f"entity_row_{commit}.json").read_text())
    return fixture["entity"], fixture["seed"], fixture["row"]


def _go_on(config: ModelConfig, entity: str, row: dict[str, Any]) -> tuple[list[Any], Any]:
    """Five more messages of 10 points (a spike in the second, quiet after) through the row:
    every point's score, threshold and decisions, the events, and the replayed events."""
    rng = random.Random(7)
    seen: list[Any] = []
    for message in range(10, 15):
        record = EntityRecord(row)
        ts = [START_TS + STEP_S * (10 * message + k) for k in range(10)]
        values = [normal_values(rng) for _ in range(10)]
        if message == 11:
            values[3] = [180.0, 14.0]
        outcome = score_batch(
            config,
            entity,
            record.model_state(MODEL_ID),
            ts,
            values,
            entity_state=record.shared,
        )
        assert outcome.state is not None
        row = record.updated(
            SOURCE, message, {MODEL_ID: outcome.state}, outcome.entity_state, outcome.events
        )
        seen.append(
            {
                "points": [(p.score, p.threshold, p.is_anomaly, p.alert) for p in outcome.points],
                "events": orjson.dumps(outcome.events),
                "replayed": orjson.dumps(EntityRecord(row).events_of(SOURCE, message, entity)),
            }
        )
    return seen, row


@pytest.mark.parametrize("commit", OLD)
def test_the_events_of_an_old_row_replay_as_they_were_published(commit: str) -> None:
    entity, seed, old = _old(commit)
    new, _ = warmed_row(_config(), entity, seed)
    full = _old("2ce1a74")[2]
    assert [entry[1] for entry in old["recent"]] == [0, 2, 9]
    for _, offset, published in full["recent"]:
        assert EntityRecord(new).events_of(SOURCE, offset, entity)
        for row in (old, new):
            replayed = EntityRecord(row).events_of(SOURCE, offset, entity)
            assert orjson.dumps(replayed) == orjson.dumps(published)  # fields, order and all


@pytest.mark.parametrize(
    ("commit", "smaller"), [("2ce1a74", 0.75), ("0b08944", 0.95), ("9065689", 0.95)]
)
def test_an_old_row_scores_on_exactly_as_the_row_written_now(commit: str, smaller: float) -> None:
    config = _config()
    entity, seed, old = _old(commit)
    new, _ = warmed_row(config, entity, seed)
    assert len(orjson.dumps(new)) < len(orjson.dumps(old)) * smaller
    from_old, old_after = _go_on(config, entity, old)
    from_new, new_after = _go_on(config, entity, new)
    assert from_old == from_new
    assert b'"event":"update"' in from_new[1]["events"]  # the spike joined the open incident
    assert from_new[1]["replayed"] == from_new[1]["events"]
    for _, offset, _events in new_after["recent"]:
        assert EntityRecord(old_after).events_of(SOURCE, offset, entity) == EntityRecord(
            new_after
        ).events_of(SOURCE, offset, entity)


message = st.lists(
    st.tuples(
        st.sampled_from([("telemetry.metrics", "cpu"), ("telemetry.logs", "logs"), ("rest", "m")]),
        st.integers(1, 200),
        st.floats(0.0, 20.0),
        st.booleans(),
        st.sampled_from(["", "why", "a longer why"]),
    ),
    max_size=4,
)


@settings(max_examples=120, deadline=None)
@given(st.lists(message, max_size=25))
def test_every_kept_event_replays_as_published_while_its_incident_moves_on(
    messages: list[list[tuple[Any, ...]]],
) -> None:
    life = EntityIncidents("host-1")
    spec = LifecycleSpec(cooldown=30.0, resolve_after=120.0)
    row: dict[str, Any] | None = None
    published: dict[int, bytes] = {}
    ts = START_TS
    for offset, observations in enumerate(messages):
        events = []
        for (source, model_id), step, score, alert, why in observations:
            ts += step
            signal = Signal(f"f{step % 3}", float(step), score, 1.0, 2.0)
            obs = Observation(model_id, "1", source, ts, score, 3.0, alert, [signal], [source], why)
            events += life.observe(obs, spec).events
        shared = orjson.loads(orjson.dumps(life.to_state()))  # as the changelog returns it
        row = orjson.loads(
            orjson.dumps(EntityRecord(row).updated(SOURCE, offset, {}, shared, events))
        )
        if events:
            published[offset] = orjson.dumps(events)
        for _, kept, _ in row.get("recent", []):
            replayed = EntityRecord(row).events_of(SOURCE, kept, "host-1")
            assert orjson.dumps(replayed) == published[kept]


def test_an_incident_that_ended_is_kept_for_its_events_only_when_that_saves_space() -> None:
    life = EntityIncidents("host-1")
    spec = LifecycleSpec(resolve_after=60.0)
    cpu = [Signal("cpu", 90.0, 8.0, 50.0, 5.0)]
    opened = life.observe(Observation("m", "1", "s", 0.0, 8.0, 3.0, True, cpu), spec).events
    # a row of an earlier version: the open event kept whole
    old = {"shared": life.to_state(), "offsets": {SOURCE: 0}, "recent": [[SOURCE, 0, opened]]}
    resolved = life.observe(Observation("m", "1", "s", 90.0, 1.0, 3.0, False), spec).events
    row = EntityRecord(old).updated(SOURCE, 1, {}, life.to_state(), resolved)
    assert "ended" not in row  # one event of it to refer: packed whole is smaller
    assert EntityRecord(row).events_of(SOURCE, 0, "host-1") == opened
    assert EntityRecord(row).events_of(SOURCE, 1, "host-1") == resolved
    # the same incident written by this version: both events refer to it once it has ended
    life = EntityIncidents("host-1")
    opened = life.observe(Observation("m", "1", "s", 0.0, 8.0, 3.0, True, cpu), spec).events
    row = EntityRecord(None).updated(SOURCE, 0, {}, life.to_state(), opened)
    resolved = life.observe(Observation("m", "1", "s", 90.0, 1.0, 3.0, False), spec).events
    row = EntityRecord(row).updated(SOURCE, 1, {}, life.to_state(), resolved)
    assert row["ended"]["incident_id"] == opened[0]["incident_id"]
    assert EntityRecord(row).events_of(SOURCE, 0, "host-1") == opened
    assert EntityRecord(row).events_of(SOURCE, 1, "host-1") == resolved


def _recommended(row: dict[str, Any] | None, messages: range, spike: int) -> tuple[Any, list[Any]]:
    """The recommended model's row after 10 minute points a message of a daily cycle (the
    fixture's series: seed 3, a spike at ``spike``); per message the alerts and the events."""
    config = ModelConfig.from_dict(ModelConfigIn.model_validate({"model_id": "m"}).model_dump())
    rng = random.Random(3)
    seen: list[Any] = []
    for message in range(messages.stop):
        ts = [1.7e9 + 60.0 * (10 * message + k) for k in range(10)]
        values = [[100.0 + 10 * math.sin(2 * math.pi * t / 86400) + rng.gauss(0, 1)] for t in ts]
        if message == spike:
            values[5] = [160.0]
        if message not in messages:
            continue
        record = EntityRecord(row)
        out = score_batch(
            config, "host-1", record.model_state("m"), ts, values, entity_state=record.shared
        )
        assert out.state is not None
        row = record.updated(SOURCE, message, {"m": out.state}, out.entity_state, out.events)
        seen.append(([(p.is_anomaly, p.alert) for p in out.points], _kinds(out.events)))
    return row, seen


def _kinds(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["event"], e["incident_id"], e["seq"], e["severity"], e["ts"]) for e in events]


def test_a_recommended_model_row_of_9065689_goes_on_with_the_same_alerts_and_incidents() -> None:
    fixture = _old("9065689_adaptive")[2]
    row, _ = _recommended(None, range(432), spike=400)
    assert len(orjson.dumps(row)) < len(orjson.dumps(fixture)) - 500
    for _, offset, _events in fixture["recent"]:  # the spike's incident, opened and resolved
        old, new = (EntityRecord(r).events_of(SOURCE, offset, "host-1") for r in (fixture, row))
        assert old and _kinds(old) == _kinds(new)
    # a day more, with a spike: the same alerts and incidents from the old row as from the new;
    # the old row reads its profile as steps until lines between the half hours predict better
    # (err_lin starts at the steps' error), so a point near the threshold may flag otherwise
    _, from_old = _recommended(fixture, range(432, 576), spike=500)
    _, from_new = _recommended(row, range(432, 576), spike=500)
    assert [kinds for _, kinds in from_old] == [kinds for _, kinds in from_new]
    alerts = [[[a for _, a in points] for points, _ in side] for side in (from_old, from_new)]
    assert alerts[0] == alerts[1]
    flags = [[f for points, _ in side for f, _ in points] for side in (from_old, from_new)]
    assert sum(a != b for a, b in zip(*flags, strict=True)) <= len(flags[0]) // 100
    assert any(kinds for _, kinds in from_new)  # the spike opened an incident
