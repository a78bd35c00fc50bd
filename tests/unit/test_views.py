"""ConfigStore and AlertStore: what the whole-topic views make of the records they read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from app.worker.views import AlertStore, ConfigStore


@dataclass
class Record:
    """The part of aiokafka's ConsumerRecord the stores read."""

    key: bytes | None
    value: bytes | None
    offset: int = 0


def _config_record(model_id: str, config: dict[str, Any] | None, offset: int = 0) -> Record:
    value = None if config is None else orjson.dumps(config)
    return Record(model_id.encode(), value, offset)


def _alert_record(offset: int = 0, **alert: Any) -> Record:
    return Record(str(alert.get("entity", "")).encode(), orjson.dumps(alert), offset)


def _cfg(model_id: str, version: str = "1") -> dict[str, Any]:
    return {"model_id": model_id, "model_version": version, "detector": "ewma"}


def _alert(incident_id: str, ts: float, **fields: Any) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "ts": ts,
        "model_id": "m",
        "entity": "host-1",
        "status": "open",
        **fields,
    }


# --- ConfigStore --------------------------------------------------------------------------------


def test_config_store_keeps_the_latest_config_per_model() -> None:
    store = ConfigStore()
    store.apply(_config_record("b", _cfg("b")))
    store.apply(_config_record("a", _cfg("a")))
    store.apply(_config_record("b", _cfg("b", "2")))
    assert store.get("b") == _cfg("b", "2")
    model = store.model("b")
    assert model is not None and model.model_version == "2" and model.detector == "ewma"
    assert [c["model_id"] for c in store.all()] == ["a", "b"]
    assert store.get("c") is None


def test_a_tombstone_removes_the_config() -> None:
    store = ConfigStore()
    store.apply(_config_record("a", _cfg("a")))
    store.apply(_config_record("a", None))
    assert store.get("a") is None and store.all() == [] and store.model("a") is None
    store.apply(_config_record("never-seen", None))  # a tombstone for nothing is harmless
    assert store.all() == []


def test_config_changes_are_announced() -> None:
    store = ConfigStore()
    seen: list[tuple[str, dict[str, Any] | None]] = []
    store.on_change.append(lambda model_id, config: seen.append((model_id, config)))
    store.apply(_config_record("a", _cfg("a")))
    store.apply(_config_record("a", None))
    assert seen == [("a", _cfg("a")), ("a", None)]


def test_config_record_without_key_is_ignored() -> None:
    store = ConfigStore()
    seen: list[str] = []
    store.on_change.append(lambda model_id, _config: seen.append(model_id))
    store.apply(Record(None, orjson.dumps({"model_id": "a"})))
    assert store.all() == [] and seen == []


def test_unreadable_config_record_raises_and_changes_nothing() -> None:
    # TopicView logs and skips a record whose apply raises; the store must stay as it was.
    store = ConfigStore()
    store.apply(_config_record("a", _cfg("a")))
    with pytest.raises(orjson.JSONDecodeError):
        store.apply(Record(b"a", b"{not json"))
    assert store.get("a") == _cfg("a")


# --- AlertStore -----------------------------------------------------------------------------------


def test_alerts_are_deduplicated_by_incident_id_latest_document_wins() -> None:
    store = AlertStore(limit=100)
    store.apply(_alert_record(**_alert("inc-1", 10.0, status="open")))
    store.apply(_alert_record(**_alert("inc-2", 20.0)))
    store.apply(_alert_record(**_alert("inc-1", 10.0, status="delivered")))
    assert len(store) == 2
    alerts = store.query()
    assert [a["incident_id"] for a in alerts] == ["inc-2", "inc-1"]
    assert alerts[1]["status"] == "delivered"


def test_alerts_are_newest_first_by_event_time_not_arrival() -> None:
    store = AlertStore(limit=100)
    for incident, ts in [("a", 30.0), ("b", 10.0), ("c", 50.0), ("d", 20.0)]:
        store.apply(_alert_record(**_alert(incident, ts)))
    assert [a["incident_id"] for a in store.query()] == ["c", "a", "d", "b"]


def test_alert_filters_and_limit() -> None:
    store = AlertStore(limit=100)
    store.apply(_alert_record(**_alert("1", 10.0, model_id="m1", entity="h1")))
    store.apply(_alert_record(**_alert("2", 20.0, model_id="m1", entity="h2")))
    store.apply(_alert_record(**_alert("3", 30.0, model_id="m2", entity="h1")))
    store.apply(_alert_record(**_alert("4", 40.0, model_id="m1", entity="h1")))

    def ids(**query: Any) -> list[str]:
        return [a["incident_id"] for a in store.query(**query)]

    assert ids(model_id="m1") == ["4", "2", "1"]
    assert ids(entity="h1") == ["4", "3", "1"]
    assert ids(model_id="m1", entity="h1") == ["4", "1"]
    assert ids(since=20.0) == ["4", "3", "2"]  # since is inclusive
    assert ids(since=20.5) == ["4", "3"]
    assert ids(limit=2) == ["4", "3"]
    assert ids(model_id="m1", since=15.0, limit=1) == ["4"]
    assert ids(model_id="nope") == []


def test_records_that_are_not_incidents_are_ignored() -> None:
    store = AlertStore(limit=10)
    store.apply(Record(b"k", orjson.dumps({"ts": 1.0})))
    store.apply(Record(b"k", orjson.dumps([1, 2])))
    store.apply(Record(b"k", None))
    assert len(store) == 0 and store.query() == []


def test_eviction_beyond_the_limit_keeps_the_newest() -> None:
    store = AlertStore(limit=3)
    for i in range(6):
        store.apply(_alert_record(offset=i, **_alert(f"inc-{i}", float(i))))
    assert len(store) == 3
    assert [a["incident_id"] for a in store.query(limit=100)] == ["inc-5", "inc-4", "inc-3"]


def test_an_update_does_not_count_twice_against_the_limit() -> None:
    store = AlertStore(limit=2)
    store.apply(_alert_record(**_alert("a", 1.0)))
    store.apply(_alert_record(**_alert("b", 2.0)))
    store.apply(_alert_record(**_alert("b", 2.0, status="delivered")))
    assert {a["incident_id"] for a in store.query()} == {"a", "b"}


def test_eviction_keeps_the_newest_by_event_time_when_read_out_of_order() -> None:
    store = AlertStore(limit=2)
    # partition 0 holds the newest incident, partition 1 is read after it
    store.apply(_alert_record(**_alert("p0-newest", 300.0)))
    store.apply(_alert_record(**_alert("p1-old", 100.0)))
    store.apply(_alert_record(**_alert("p1-older", 50.0)))
    assert [a["incident_id"] for a in store.query()][0] == "p0-newest"
