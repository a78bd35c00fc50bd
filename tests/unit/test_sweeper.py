"""The worker's timer (app/worker/sweeper.py) on fake tables: it touches only the partitions this worker
owns, writes through the table and its changelog (a tombstone for a row that goes), publishes a
silent incident's resolve before taking it out of the row, prunes the deliveries ledger, and
reports it all on /metrics. A row from a newer engine (app/worker/engine.py) never stops the stream."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from app.worker.engine import Engine, partition_for
from app.worker.entity_record import ROW_VERSION, EntityRecord
from app.worker.metrics import EngineMetrics
from app.worker.pending_writes import PendingWrites
from app.worker.recent import RecentStore
from app.worker.settings import Settings
from app.worker.sweeper import Sweeper
from app.worker.write_back import WriteBack
from incidents.config import ModelConfig
from incidents.incident import iso_time
from incidents.lifecycle import EntityIncidents
from incidents.notify.dispatcher import Dispatcher
from incidents.notify.retry import RetryPolicy
from incidents.observation import LifecycleSpec, Observation
from incidents.outcome import BatchOutcome
from tests.unit.test_metrics import ScriptedChannel, no_sleep, ok

NOW = 1_800_000_000.0
PARTITIONS = 4


class FakeTable:
    """A Faust table as PendingWrites uses it: a store and changelog sends."""

    def __init__(self, rows: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(rows or {})
        self.changelog: list[tuple[int, str, Any]] = []

    def send_changelog(self, partition: int, key: str, value: Any, **_: Any) -> None:
        self.changelog.append((partition, key, value))

    def get(self, key: str) -> Any:
        return self.data.get(key)


def _entities_on(partition: int, count: int) -> list[str]:
    found = []
    k = 0
    while len(found) < count:
        name = f"host-{k}"
        if partition_for(name, PARTITIONS) == partition:
            found.append(name)
        k += 1
    return found


def _row(entity: str, heard: float, open_incident: bool = False) -> dict[str, Any]:
    life = EntityIncidents(entity)
    if open_incident:
        life.observe(Observation("m", "1", "s", 100.0, 9.0, 3.0, True), LifecycleSpec())
    return EntityRecord(None).updated("t:0", 1, {"m": {"n": 1}}, life.to_state(), [], heard)


def _engine(rows: dict[str, Any], owned: set[int], ledger: dict[str, Any] | None = None) -> Any:
    settings = Settings(kafka_bootstrap_servers="x", ledger_retention_s=100, ledger_max_rows=2)
    config = ModelConfig.from_dict(
        {"model_id": "m", "detector": "ewma", "silent_after": 60, "state_ttl": 600}
    )
    published: list[dict[str, Any]] = []
    engine = SimpleNamespace(
        settings=settings,
        app=SimpleNamespace(
            rebalancing=False,
            tables=SimpleNamespace(recovery=SimpleNamespace(completed=asyncio.Event())),
            consumer=SimpleNamespace(
                assignment=lambda: {
                    TP(topic, p)
                    for p in owned
                    for topic in (settings.metrics_topic, settings.alerts_topic)
                }
            ),
        ),
        entity_state=FakeTable(rows),
        model_stats=FakeTable(),
        deliveries=FakeTable(ledger),
        metrics=EngineMetrics(process=False),
        partition_of=lambda entity: partition_for(entity, PARTITIONS),
        model_config=lambda model_id: config if model_id == "m" else None,
        list_configs=lambda: [{"model_id": "m"}],
        published=published,
    )

    async def publish_events(events: list[dict[str, Any]]) -> list[Any]:
        # The rows are written before the first await: an agent running now reads them swept.
        engine.rows_when_published = {k: dict(v) for k, v in engine.entity_state.data.items()}
        published.extend(events)
        return []

    engine.publish_events = publish_events
    engine.write_back = WriteBack(1.0)
    engine.pending_writes = lambda later=False: Engine.pending_writes(engine, later=later)
    engine.app.tables.recovery.completed.set()
    return engine


def _sweep(engine: Any, now: float) -> None:
    asyncio.run(Sweeper(engine, clock=lambda: now).sweep())


def test_a_silent_entity_s_incident_resolves_and_leaves_the_outbox_once_published() -> None:
    [mine] = _entities_on(0, 1)
    engine = _engine({mine: _row(mine, NOW - 60, open_incident=True)}, owned={0})
    _sweep(engine, NOW)
    [event] = engine.published
    assert (event["event"], event["resolution"], event["entity"]) == ("resolve", "silent", mine)
    assert engine.rows_when_published[mine]["outbox"] == [event], "in the row before publishing"
    row = engine.entity_state.data[mine]
    assert row["shared"]["open"] is None and "outbox" not in row
    assert [(p, k) for p, k, _ in engine.entity_state.changelog] == [(0, mine), (0, mine)]
    assert engine.metrics.value("anomaly_incidents_silent_total", model_id="m") == 1
    assert engine.metrics.value("anomaly_incidents_resolved_total", model_id="m") == 1
    _sweep(engine, NOW + 5)
    assert len(engine.published) == 1, "resolved once"


def test_an_outbox_left_by_a_worker_that_died_is_published_again() -> None:
    [mine] = _entities_on(1, 1)
    engine = _engine({mine: _row(mine, NOW - 60, open_incident=True)}, owned={1})

    async def died(events: list[dict[str, Any]]) -> list[Any]:
        raise ConnectionError("worker killed before the broker had it")

    engine.publish_events, publish = died, engine.publish_events
    with pytest.raises(ConnectionError):
        _sweep(engine, NOW)
    assert len(engine.entity_state.data[mine]["outbox"]) == 1
    engine.publish_events = publish
    _sweep(engine, NOW + 5)  # after the restart
    [event] = engine.published
    assert event["resolution"] == "silent" and "outbox" not in engine.entity_state.data[mine]
    assert engine.metrics.value("anomaly_incidents_silent_total", model_id="m") == 1


def test_only_rows_of_owned_partitions_are_touched() -> None:
    [mine] = _entities_on(0, 1)
    [theirs] = _entities_on(2, 1)  # a standby's copy: its owner sweeps it
    rows = {
        mine: _row(mine, NOW - 10_000),
        theirs: _row(theirs, NOW - 10_000, open_incident=True),
    }
    engine = _engine(rows, owned={0})
    _sweep(engine, NOW)
    assert mine not in engine.entity_state.data
    assert engine.entity_state.changelog == [(0, mine, None)], "a tombstone, on its partition"
    assert engine.entity_state.data[theirs] == rows[theirs]
    assert engine.published == []
    assert engine.metrics.value("anomaly_state_expired_total", model_id="m") == 1


def test_nothing_is_touched_while_rebalancing() -> None:
    [mine] = _entities_on(0, 1)
    engine = _engine({mine: _row(mine, NOW - 10_000, open_incident=True)}, owned={0})
    engine.app.rebalancing = True
    _sweep(engine, NOW)
    assert engine.entity_state.changelog == [] and engine.published == []


def test_the_entities_gauge_counts_owned_rows_holding_state() -> None:
    mine = _entities_on(3, 3)
    rows = {e: _row(e, NOW - 1) for e in mine}
    rows[mine[2]] = _row(mine[2], NOW - 10_000)  # expires in this round
    rows["\x00position telemetry.metrics:3"] = {"next": 5}  # the engine's own row
    engine = _engine(rows, owned={3})
    _sweep(engine, NOW)
    assert engine.metrics.value("anomaly_state_entities", model_id="m") == 2
    assert "\x00position telemetry.metrics:3" in engine.entity_state.data


def test_the_deliveries_ledger_is_pruned_by_age_and_capped() -> None:
    ledger = {
        "inc-1|open|0|slack": {"status": "delivered", "at": NOW - 200, "partition": 0},
        "inc-2|open|0|slack": {"status": "delivered", "at": NOW - 50, "partition": 0},
        "inc-3|open|0|slack": {"status": "delivered", "at": NOW - 40, "partition": 0},
        "inc-4|open|0|slack": {"status": "delivered", "at": NOW - 30, "partition": 0},
        "inc-5|open|0|slack": {"status": "delivered", "at": NOW - 900, "partition": 1},
    }
    engine = _engine({}, owned={0}, ledger=ledger)
    _sweep(engine, NOW)
    assert sorted(engine.deliveries.data) == [
        "inc-3|open|0|slack",
        "inc-4|open|0|slack",
        "inc-5|open|0|slack",  # another worker's partition
    ]
    metrics = engine.metrics
    assert metrics.value("anomaly_ledger_rows", ledger="deliveries") == 2
    assert metrics.value("anomaly_ledger_cap", ledger="deliveries") == 2
    assert metrics.value("anomaly_ledger_pruned_total", ledger="deliveries", reason="age") == 1
    assert metrics.value("anomaly_ledger_pruned_total", ledger="deliveries", reason="cap") == 1


# ------------------------------------------------------------------ rows from a newer engine


def _bare_engine() -> Any:
    engine = object.__new__(Engine)
    engine.metrics = EngineMetrics(process=False)
    engine.recent = RecentStore()
    return engine


def _step(config: ModelConfig) -> Any:
    def run(state: Any, shared: Any) -> BatchOutcome:
        if state is not None and state.get("format") != "known":
            raise KeyError("ts")  # what an older parser does on a layout it does not know
        return BatchOutcome(state={"format": "known", "n": (state or {}).get("n", 0) + 1})

    return [(config, run)]


def test_a_row_from_the_future_is_read_by_the_fields_this_version_knows() -> None:
    config = ModelConfig.from_dict({"model_id": "m", "detector": "ewma"})
    future = {"v": 99, "models": {"m": {"format": "known", "n": 4}}, "hologram": [1, 2]}
    rows = FakeTable({"host-1": future})
    pending = PendingWrites(rows, FakeTable())
    engine = _bare_engine()
    outcomes, _ = engine.apply_message("host-1", 0, ("t", 0, 1), _step(config), pending)
    row = pending.row("host-1")
    assert row["models"]["m"]["n"] == 5, "the state was read and learned on"
    assert row["hologram"] == [1, 2], "unknown fields are kept as they are"
    assert engine.metrics.value("anomaly_state_rows_newer_total", version="99") == 1
    assert (
        engine.metrics.value("anomaly_state_resets_total", model_id="m", reason="unreadable")
        is None
    )


def test_a_state_from_the_future_that_cannot_be_read_is_reset_with_a_counted_warning(
    caplog: Any,
) -> None:
    config = ModelConfig.from_dict({"model_id": "m", "detector": "ewma"})
    future = {"v": ROW_VERSION + 1, "models": {"m": {"format": "quantum", "n": 4}}}
    rows = FakeTable({"host-1": future})
    pending = PendingWrites(rows, FakeTable())
    engine = _bare_engine()
    outcomes, _ = engine.apply_message("host-1", 0, ("t", 0, 1), _step(config), pending)
    assert pending.row("host-1")["models"]["m"] == {"format": "known", "n": 1}
    assert (
        engine.metrics.value("anomaly_state_resets_total", model_id="m", reason="unreadable") == 1
    )
    assert "written by a newer engine could not be read" in caplog.text


def test_a_row_of_this_version_is_not_reset_on_an_error() -> None:
    config = ModelConfig.from_dict({"model_id": "m", "detector": "ewma"})
    rows = FakeTable({"host-1": {"v": ROW_VERSION, "models": {"m": {"format": "quantum"}}}})
    engine = _bare_engine()
    with pytest.raises(KeyError):  # surfaces: the message is dead-lettered, the state kept
        engine.apply_message(
            "host-1", 0, ("t", 0, 1), _step(config), PendingWrites(rows, FakeTable())
        )


def test_a_large_table_is_swept_in_slices_reading_each_row_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.worker.sweeper.SLICE_ROWS", 2)
    hosts = _entities_on(0, 5)
    engine = _engine({e: _row(e, NOW - 10_000) for e in hosts}, owned={0})
    last = hosts[-1]

    async def round_with_a_message_meanwhile() -> None:
        sweep = asyncio.ensure_future(Sweeper(engine, clock=lambda: NOW).sweep())
        await asyncio.sleep(0)  # the first slice is swept; a message of `last` arrives
        engine.entity_state.data[last] = _row(last, NOW)
        await sweep

    asyncio.run(round_with_a_message_meanwhile())
    assert list(engine.entity_state.data) == [last], "heard meanwhile: kept"
    assert engine.metrics.value("anomaly_state_expired_total", model_id="m") == 4


def test_ledger_rows_record_their_partition_for_pruning() -> None:
    dispatcher = Dispatcher(
        {"webhook": ScriptedChannel([ok()])}, list, RetryPolicy(), timeout=1, sleep=no_sleep
    )
    ledger: dict[str, Any] = {}
    event = {"incident_id": "inc-1", "event": "open", "seq": 0, "alert_channels": ["webhook"]}
    assert asyncio.run(dispatcher.handle("webhook", event, ledger, 3)) == "delivered"
    assert ledger["inc-1|open|0|webhook"]["partition"] == 3
    engine = _engine({}, owned={3}, ledger=ledger)
    asyncio.run(Sweeper(engine, clock=lambda: ledger["inc-1|open|0|webhook"]["at"] + 100).sweep())
    assert engine.deliveries.data == {}, "older than the retention, on an owned partition: pruned"


def test_an_absence_opens_on_the_timer_and_resolves_on_the_entity_s_next_message() -> None:
    [mine] = _entities_on(0, 1)
    engine = _engine({mine: _row(mine, NOW - 300)}, owned={0})
    config = ModelConfig.from_dict(
        {"model_id": "m", "detector": "ewma", "expect_every": 300, "state_ttl": 600}
    )
    engine.model_config = lambda model_id: config if model_id == "m" else None
    _sweep(engine, NOW)
    [opened] = engine.published
    assert (opened["event"], opened["source"], opened["entity"]) == ("open", "absence", mine)
    assert engine.metrics.value("anomaly_incidents_absent_total", model_id="m") == 1
    assert engine.metrics.value("anomaly_incidents_opened_total", model_id="m") == 1
    _sweep(engine, NOW + 5)
    assert engine.published == [opened], "opened once"

    bare = _bare_engine()
    bare.clock = lambda: NOW + 60
    steps = [(config, lambda state, shared: BatchOutcome(state={"n": 2}))]
    pending = PendingWrites(engine.entity_state, FakeTable())
    _, events = bare.apply_message(mine, 0, ("t", 0, 2), steps, pending)
    [resolved] = events
    assert (resolved["event"], resolved["resolution"], resolved["incident_id"]) == (
        "resolve",
        "reported",
        opened["incident_id"],
    )
    assert resolved["resolved_at"] == iso_time(NOW + 60)
    assert "absent" not in pending.row(mine)
    # a replay of that message publishes the same resolve again (delivery dedups it)
    again = PendingWrites(FakeTable({mine: pending.row(mine)}), FakeTable())
    assert bare.apply_message(mine, 0, ("t", 0, 2), steps, again)[1] == [resolved]
