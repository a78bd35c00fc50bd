"""Packed events and incidents read back as the very documents that were stored."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.compact import pack_event, unpack_event, unpack_incident
from incidents.incident import Signal
from incidents.lifecycle import EntityIncidents
from incidents.observation import LifecycleSpec, Observation

SOURCES = [("telemetry.metrics", "cpu-model"), ("telemetry.logs", "logs-model"), ("rest", "m")]

observation = st.builds(
    lambda source, step, score, alert, detail, value: (source, step, score, alert, detail, value),
    st.sampled_from(SOURCES),
    st.integers(1, 200),
    st.one_of(st.floats(0.0, 20.0), st.just(3.0)),
    st.booleans(),
    st.one_of(st.none(), st.just("new transition a -> b")),
    st.one_of(st.floats(-1e6, 1e6), st.just(100.0)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(observation, max_size=30))
def test_every_event_and_open_incident_round_trips_exactly(steps: list[tuple]) -> None:
    spec = LifecycleSpec(cooldown=30.0, resolve_after=120.0)
    life = EntityIncidents("host-1")
    ts = 1_795_766_400.0
    for (source, model_id), step, score, alert, detail, value in steps:
        ts += step
        signals = [Signal("cpu", value, score, 50.0, 5.0, detail), Signal("mem", None, 0.0, 1, 2)]
        obs = Observation(model_id, "1", source, ts, score, 3.0, alert, signals, ["slack"], "why")
        for event in life.observe(obs, spec).events:
            stored = orjson.loads(orjson.dumps(pack_event(event)))
            assert orjson.dumps(unpack_event(stored, "host-1")) == orjson.dumps(event)
        state = orjson.loads(orjson.dumps(life.to_state()))
        if life.open is not None:  # same values of the same types (orjson writes 1 and 1.0)
            assert orjson.dumps(unpack_incident(state["open"])) == orjson.dumps(life.open)
            assert EntityIncidents("host-1", state).open == life.open


def test_a_full_event_of_an_older_row_reads_as_it_is() -> None:
    life = EntityIncidents("host-1")
    obs = Observation("m", "1", "s", 60.0, 9.0, 3.0, True, [Signal("cpu", 9.0, 4.0, 5.0, 1.0)])
    [event] = life.observe(obs, LifecycleSpec()).events
    assert unpack_event(event, "host-1") == event
    assert unpack_incident(life.open) == life.open  # type: ignore[arg-type]
    assert len(orjson.dumps(pack_event(event))) < len(orjson.dumps(event)) / 2


def test_an_event_of_another_schema_or_with_unknown_fields_is_kept_whole() -> None:
    life = EntityIncidents("host-1")
    obs = Observation("m", "1", "s", 60.0, 9.0, 3.0, True, [Signal("cpu", 9.0, 4.0, 5.0, 1.0)])
    [event] = life.observe(obs, LifecycleSpec()).events
    other = {**event, "schema": "anomaly.incident/v2"}
    assert unpack_event(pack_event(other), "host-1") == other
    extra = {**event, "note": "added by a later version"}
    assert unpack_event(pack_event(extra), "host-1") == extra


def test_an_open_incident_is_stored_with_its_numbers_packed_unless_one_is_not_a_float() -> None:
    spec = LifecycleSpec()
    for ts, packed in ((60.0, True), (60, False)):  # an integer time stays as it is
        life = EntityIncidents("host-1")
        obs = Observation("m", "1", "s", ts, 9.0, 3.0, True, [Signal("cpu", 9.0, 4.0, 5.0, 1)])
        life.observe(obs, spec)
        state = orjson.loads(orjson.dumps(life.to_state()))
        assert ("ts" not in state["open"]) is packed
        assert state["open"]["signals"] == [["cpu", 9.0, 4.0, 5.0, 1]]
        assert orjson.dumps(EntityIncidents("host-1", state).open) == orjson.dumps(life.open)
