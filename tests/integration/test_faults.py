"""Faults with real processes: workers killed mid-stream, a frozen broker, a config change under
load, and a rebalance. Each test states the figures it measured (pytest -s prints them)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer

from app.worker.kafka.broker import EmbeddedBroker
from incidents.incident import incident_id
from tests.integration.harness import EngineProcess, engine_env, point, read_topic, wait_until

T0 = 1795766400.0
ENTITIES = [f"node-{i:02d}" for i in range(12)]
SPIKE_EVERY = 25  # rounds; 250 s of event time apart, past resolve_after: one incident each
CONFIG = {
    "configs": [
        {
            "model_id": "load",
            "model_version": "1",
            "detector": "zscore",
            "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
            "resolve_after": 20,
        }
    ]
}


def spike_round(r: int) -> bool:
    return r % SPIKE_EVERY == 12


class RoundProducer(threading.Thread):
    """Produces one point per entity per round (10 s of event time apart) until stopped."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        model_id: str = "load",
        pause: float = 0.05,
        idempotent: bool = False,
    ) -> None:
        super().__init__(daemon=True)
        # ``idempotent``: a request retried after a leader failover is written once (librdkafka's
        # default producer may write it twice, and the test would count a point the producer
        # duplicated as one the engine applied twice).
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": 5,
                "partitioner": "murmur2_random",
                "enable.idempotence": idempotent,
            }
        )
        self.topic = topic
        self.model_id = model_id
        self.pause = pause
        self.rounds = 0
        self.stop_after: int | None = None
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                self.errors.append(str(err))

        while self.stop_after is None or self.rounds < self.stop_after:
            r = self.rounds
            for entity in ENTITIES:
                value = [150.0] if spike_round(r) else [100.0 + (r % 3)]
                self.producer.produce(
                    self.topic,
                    key=entity.encode(),
                    value=point(self.model_id, entity, T0 + 10 * r, value),
                    on_delivery=delivered,
                )
            self.producer.flush(30)
            self.rounds += 1
            time.sleep(self.pause)  # pacing of the load, not waiting for a condition
        self.done.set()

    def finish(self, extra_rounds: int) -> int:
        """Stop after ``extra_rounds`` more rounds; returns the total once produced."""
        self.stop_after = self.rounds + extra_rounds
        assert self.done.wait(120), "the producer did not finish"
        assert not self.errors, self.errors
        return self.rounds


def points_seen(worker: EngineProcess, entity: str, model_id: str = "load") -> int:
    body = {
        "model_id": model_id,
        "entity": entity,
        "records": [{"ts": T0, "values": [100.0]}],
        "dry_run": True,
    }
    response = worker.post("/anomaly/score", body)
    return int(response.json()["points_seen"]) if response.status_code == 200 else -1


def points_by_entity(records: list[dict[str, Any]]) -> dict[str, int]:
    """The ``load`` model's point count in the last row of each entity in ``records`` (an
    entity_state changelog read in order; Faust writes keys and values as JSON)."""
    last: dict[str, int] = {}
    for record in records:
        row = record["value"]
        if record["key"] is not None and row:
            state = row.get("models", {}).get("load")
            if state:
                last[json.loads(record["key"])] = int(state["points"])
    return last


def widest_step(records: list[dict[str, Any]], entity: str) -> str:
    """Where ``entity``'s rows moved furthest in source offset from one row to the next: a row
    that jumps hundreds of offsets for a few points shows the messages that were skipped."""
    rows = [
        (r["value"]["models"]["load"]["points"], max(r["value"]["offsets"].values()))
        for r in records
        if r["key"] is not None
        and json.loads(r["key"]) == entity
        and r["value"]
        and "load" in r["value"].get("models", {})
    ]
    steps = [(b[1] - a[1], a, b) for a, b in zip(rows, rows[1:], strict=False)]
    if not steps:
        return f"{entity}: {len(rows)} rows"
    _, (p0, o0), (p1, o1) = max(steps)
    return f"{entity}: {p0} points at offset {o0}, then {p1} at {o1}"


def applied_counts(
    bootstrap: str, app_id: str, rounds: int, timeout: float
) -> tuple[dict[str, int], list[str]]:
    """Read the entity_state changelog (the state's source of truth: a REST dry run would read one
    worker's copy of it) until every entity's row counts ``rounds`` points: the counts its last
    rows say, and for each entity short of ``rounds`` where its rows skipped (``widest_step``)."""
    seen: dict[str, int] = {}

    def all_applied(records: list[dict[str, Any]]) -> bool:
        seen.update(points_by_entity(records))
        return all(seen.get(e) == rounds for e in ENTITIES)

    rows = read_topic(bootstrap, f"{app_id}-entity_state-changelog", all_applied, timeout)
    return seen, [widest_step(rows, e) for e in ENTITIES if seen.get(e) != rounds]


def opened(records: list[dict[str, Any]]) -> set[str]:
    """The incident ids of the ``open`` events among alert records."""
    return {r["value"]["incident_id"] for r in records if r["value"]["event"] == "open"}


def expected_opens(rounds: int) -> set[str]:
    """The incidents the load's spikes open over ``rounds`` rounds: one per spike and entity."""
    return {
        incident_id("load", "1", e, T0 + 10 * r)
        for e in ENTITIES
        for r in range(rounds)
        if spike_round(r)
    }


def test_a_worker_killed_three_times_mid_stream_loses_and_doubles_nothing(
    spawn: Any, bootstrap: str, names: dict[str, str]
) -> None:
    steady: EngineProcess = spawn()
    victim: EngineProcess = spawn()
    assert steady.post("/anomaly/config", CONFIG).status_code == 200
    wait_until(lambda: victim.get("/anomaly/config/load").status_code == 200, 10, "config on both")

    producer = RoundProducer(bootstrap, names["metrics_topic"])
    producer.start()
    kills = []
    for _ in range(3):
        wait_until(lambda n=producer.rounds: producer.rounds >= n + 10, 60, "ten more rounds")
        victim.kill()  # SIGKILL: no commit, no flush
        kills.append(producer.rounds)
        started = time.monotonic()
        victim.start()
        victim.wait_ready()
        kills[-1] = (kills[-1], round(time.monotonic() - started, 1))
    rounds = producer.finish(extra_rounds=10)

    seen, short = applied_counts(bootstrap, names["app_id"], rounds, 180)
    assert not short, (
        f"{rounds} points applied exactly once to each entity: the rows say {seen}; kills "
        f"{kills}; widest steps: {short}"
    )

    expected = expected_opens(rounds)
    records = read_topic(bootstrap, names["alerts_topic"], lambda rs: opened(rs) >= expected, 60)
    opens = [r["value"]["incident_id"] for r in records if r["value"]["event"] == "open"]
    assert set(opens) == expected  # none lost, none made up; duplicates carry the same id
    first: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:  # a replay publishes again what was published, field for field
        event = record["value"]
        key = (event["incident_id"], event["seq"])
        assert first.setdefault(key, event) == event, key
    print(
        f"\nkill test: {rounds * len(ENTITIES)} points produced, each applied once; "
        f"kills at rounds/restart seconds {kills}; {len(expected)} incidents expected, "
        f"{len(set(opens))} published, {len(opens) - len(set(opens))} duplicate open events"
    )


def test_a_frozen_broker_costs_no_restart_and_no_point(
    tmp_path: Path, names: dict[str, str]
) -> None:
    with EmbeddedBroker(preferred_port=0, log_path=tmp_path / "tansu.log") as broker:
        worker = EngineProcess(engine_env(broker.bootstrap, names), tmp_path / "worker")
        worker.start()
        try:
            worker.wait_ready()
            assert worker.post("/anomaly/config", CONFIG).status_code == 200
            pid = worker.process.pid if worker.process else None
            producer = RoundProducer(broker.bootstrap, names["metrics_topic"])
            producer.start()
            wait_until(lambda: producer.rounds >= 10, 30, "points before the freeze")
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            frozen_at = producer.rounds
            time.sleep(20)  # the fault itself: the broker is frozen for 20 s
            os.kill(broker.process.pid, signal.SIGCONT)
            resumed = time.monotonic()
            rounds = producer.finish(extra_rounds=10)

            def all_scored() -> bool:
                return all(points_seen(worker, e) == rounds for e in ENTITIES)

            wait_until(
                all_scored, 120, f"all {rounds} rounds scored after the freeze", interval=0.5
            )
            recovery = time.monotonic() - resumed
            assert worker.process is not None and worker.process.pid == pid
            assert worker.process.poll() is None, "the worker must survive without a restart"
            print(
                f"\nfreeze test: {rounds * len(ENTITIES)} points, broker frozen 20 s at round "
                f"{frozen_at}; all scored {recovery:.1f} s after it resumed; same worker pid"
            )
        finally:
            worker.stop()


def test_a_config_change_under_load_scores_each_point_with_one_version(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    assert engine.post("/anomaly/config", CONFIG).status_code == 200
    producer = RoundProducer(bootstrap, names["metrics_topic"])
    producer.start()
    wait_until(lambda: producer.rounds >= 15, 60, "load before the change")
    bumped = {"configs": [{**CONFIG["configs"][0], "model_version": "2"}]}
    assert engine.post("/anomaly/config", bumped).status_code == 200
    wait_until(lambda n=producer.rounds: producer.rounds >= n + 15, 60, "load after the change")
    rounds = producer.finish(extra_rounds=5)
    total = rounds * len(ENTITIES)

    def counted() -> dict[str, Any] | None:
        stats = engine.get("/anomaly/stats/load").json()
        return stats if stats.get("points") == total else None

    stats = wait_until(counted, 60, f"{total} points counted", interval=0.5)
    by_version = stats["points_by_version"]
    assert set(by_version) == {"1", "2"} and sum(by_version.values()) == total
    assert by_version["1"] > 0 and by_version["2"] > 0
    print(f"\nconfig change under load: {total} points, by version {by_version}")


def test_a_rebalance_recovers_tables_and_the_api_keeps_answering(
    spawn: Any, bootstrap: str, names: dict[str, str]
) -> None:
    first: EngineProcess = spawn()
    assert first.post("/anomaly/config", CONFIG).status_code == 200
    producer = RoundProducer(bootstrap, names["metrics_topic"])
    producer.start()
    wait_until(lambda: producer.rounds >= 20, 60, "points before the rebalance")

    answers: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                answers.append(first.get("/anomaly/alerts", limit=5).status_code)
            except httpx.HTTPError:
                answers.append(0)
            time.sleep(0.05)  # polling cadence of a dashboard

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    second: EngineProcess = spawn()  # joins: partitions move to it, with their state
    wait_until(lambda: bool(second.health()["assigned_partitions"]), 60, "the join")
    second.stop()  # leaves: its partitions come back to the first worker
    rounds = producer.finish(extra_rounds=10)
    wait_until(
        lambda: all(points_seen(first, e) == rounds for e in ENTITIES),
        90,
        "every point applied once across the rebalances",
        interval=0.5,
    )
    stop.set()
    poller.join(5)
    failed = [code for code in answers if code != 200]
    assert answers and not failed, (
        f"GET /anomaly/alerts failed {len(failed)} of {len(answers)} times"
    )
    print(
        f"\nrebalance: GET /anomaly/alerts answered {len(answers)} times during join and leave, all 200"
    )
