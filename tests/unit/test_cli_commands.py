"""`anomaly-engine produce`, `config apply|get` and `alerts tail` without a broker: the commands
run with typer's CliRunner against a real HTTP server over the fake engine, sends are captured,
and the tail's printing is driven with records. Bad input ends in a sentence, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
import uvicorn
from aiokafka import ConsumerRecord, TopicPartition
from typer.testing import CliRunner

from api import create_api
from api.options import ApiOptions
from api.security import KeyRing
from app.cli import cli
from app.cli.replay import Message
from app.cli.tail import Tail
from app.worker.kafka.broker import free_port
from tests.unit.test_api import README_PAYLOAD, FakeEngine

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "cli-admin-key-7f3a9c2e5b1d4086"
READ_KEY = "cli-read-key-2b8e6d0a4c9f1357"
OPERATOR_COMMANDS = [["produce"], ["config", "apply"], ["config", "get"], ["alerts", "tail"]]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No engine setting of the developer's shell leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("ANOMALY_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


class Served:
    def __init__(self, engine: FakeEngine, url: str) -> None:
        self.engine = engine
        self.url = url


def serve(engine: FakeEngine, options: ApiOptions | None = None) -> Iterator[Served]:
    port = free_port()
    config = uvicorn.Config(
        create_api(engine, options), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # a generous deadline: a loaded machine starts it late
    while not server.started:
        assert time.monotonic() < deadline, "the test API did not start"
        time.sleep(0.01)
    try:
        yield Served(engine, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def api() -> Iterator[Served]:
    """The REST API over a fake engine, on a real port, without keys."""
    yield from serve(FakeEngine())


@pytest.fixture
def keyed_api() -> Iterator[Served]:
    """The same with an admin and a read key configured."""
    keys = KeyRing(admin_keys=[ADMIN_KEY], read_keys=[READ_KEY])
    yield from serve(FakeEngine(), ApiOptions(keys=keys))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `produce` hands to the broker, captured instead of sent."""
    calls: list[dict[str, Any]] = []

    async def fake_send(bootstrap: str, topic: str, messages: list[Message], **kwargs: Any) -> None:
        calls.append({"bootstrap": bootstrap, "topic": topic, "messages": messages, **kwargs})
        kwargs["on_connected"]()
        for message in messages:
            kwargs["on_acked"](message)

    monkeypatch.setattr("app.cli.replay.send_paced", fake_send)
    return calls


# ------------------------------------------------------------------------------------------ help


@pytest.mark.parametrize("command", OPERATOR_COMMANDS, ids=" ".join)
def test_every_command_and_option_has_help(command: list[str]) -> None:
    found: Any = typer.main.get_command(cli)
    for name in command:
        found = found.commands[name]
    assert found.help and len(found.help) > 40
    for param in found.params:
        assert getattr(param, "help", None), f"{' '.join(command)}: {param.name} has no help"
    result = invoke(*command, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for param in found.params:
        if param.param_type_name == "option":
            assert param.opts[0] in result.stdout


# --------------------------------------------------------------------------------------- produce


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_produce_csv_sends_columnar_batches_per_entity_at_the_rate(
    tmp_path: Path, sent: list[dict[str, Any]]
) -> None:
    csv_file = write(
        tmp_path,
        "hosts.csv",
        "timestamp,entity,cpu,latency,label\n"
        "2026-11-27T08:00:00Z,host-1,10,100,0\n"
        "2026-11-27T08:00:00Z,host-2,20,200,\n"
        "2026-11-27T08:00:10Z,host-1,11,,1\n"
        "2026-11-27T08:00:20Z,host-1,12,102,0\n",
    )
    result = invoke(
        "produce",
        str(csv_file),
        "--model-id",
        "metrics-v1",
        "--batch",
        "2",
        "--rate",
        "50",
        "--per",
        "messages",
        "--bootstrap-servers",
        "kafka:9092",
        "--no-progress",
    )
    assert result.exit_code == 0, result.stderr
    [call] = sent
    assert (call["bootstrap"], call["topic"], call["rate"], call["per"]) == (
        "kafka:9092",
        "telemetry.metrics",
        50.0,
        "messages",
    )
    documents = [(m.key, orjson.loads(m.value), m.points) for m in call["messages"]]
    assert documents == [
        (
            b"host-1",
            {
                "model_id": "metrics-v1",
                "entity": "host-1",
                "ts": [1795766400.0, 1795766410.0],
                "values": [[10.0, 11.0], [100.0, None]],
                "labels": [0, 1],
            },
            2,
        ),
        (
            b"host-2",
            {
                "model_id": "metrics-v1",
                "entity": "host-2",
                "ts": [1795766400.0],
                "values": [[20.0], [200.0]],
            },
            1,
        ),
        (
            b"host-1",
            {
                "model_id": "metrics-v1",
                "entity": "host-1",
                "ts": [1795766420.0],
                "values": [[12.0], [102.0]],
                "labels": [0],
            },
            1,
        ),
    ]
    assert result.stdout.startswith("sent 3 messages (4 points) to telemetry.metrics at kafka:9092")


def test_produce_discovers_the_broker_from_the_engine(
    api: Served, tmp_path: Path, sent: list[dict[str, Any]]
) -> None:
    lines = write(
        tmp_path,
        "points.jsonl",
        '{"ts": 1795766400, "values": [101, 5]}\n\n{"ts": [1795766410, 1795766420], "values": [[1, 2], [3, 4]]}\n',
    )
    result = invoke(
        "produce",
        str(lines),
        "--model-id",
        "metrics-v1",
        "--entity",
        "host-9",
        "--topic",
        "other.topic",
        "--api-url",
        api.url,
    )
    assert result.exit_code == 0, result.stderr
    [call] = sent
    assert call["bootstrap"] == "127.0.0.1:9092"  # what the engine's /health says
    assert call["topic"] == "other.topic"
    assert [m.points for m in call["messages"]] == [1, 2]
    assert all(orjson.loads(m.value)["entity"] == "host-9" for m in call["messages"])
    assert "3/3" in result.stderr and "points/s" in result.stderr  # the progress bar


@pytest.mark.parametrize(
    ("name", "text", "options", "message"),
    [
        (
            "bad.csv",
            "timestamp,value\nyesterday,1\n",
            ["--entity", "h"],
            "bad.csv line 2: timestamp 'yesterday' is neither ISO-8601 nor epoch seconds",
        ),
        (
            "nots.csv",
            "time,value\n1,2\n",
            ["--entity", "h"],
            "the header must name a timestamp column (timestamp or ts), got time, value",
        ),
        ("noentity.csv", "ts,value\n1795766400,2\n", [], "give --entity, or an entity column"),
        (
            "word.csv",
            "ts,value\n1795766400,high\n",
            ["--entity", "h"],
            "column value: 'high' is not a number",
        ),
        (
            "ragged.csv",
            "ts,a,b\n1795766400,1\n",
            ["--entity", "h"],
            "line 2: 2 cells for the 3 columns",
        ),
        ("bad.jsonl", '{"entity": "h"}\nnot json\n', [], "bad.jsonl line 2: not valid JSON"),
        (
            "keyless.jsonl",
            '{"ts": 1, "values": [1]}\n',
            [],
            'keyless.jsonl line 1: "entity" must be a non-empty string',
        ),
        ("batch.jsonl", '{"entity": "h"}\n', ["--batch", "5"], "--batch groups CSV rows"),
        ("empty.jsonl", "\n\n", [], "nothing to send"),
    ],
)
def test_produce_refuses_bad_input_with_a_sentence_and_sends_nothing(
    tmp_path: Path,
    sent: list[dict[str, Any]],
    name: str,
    text: str,
    options: list[str],
    message: str,
) -> None:
    path = write(tmp_path, name, text)
    result = invoke("produce", str(path), "--model-id", "m", *options, "--bootstrap-servers", "k:1")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert sent == []


def test_produce_csv_needs_a_model_id(tmp_path: Path, sent: list[dict[str, Any]]) -> None:
    path = write(tmp_path, "cpu.csv", "timestamp,value\n1795766400,1\n")
    result = invoke("produce", str(path), "--entity", "h", "--bootstrap-servers", "k:1")
    assert result.exit_code == 2
    assert "cpu.csv is CSV: give --model-id" in result.stderr
    assert sent == []


def test_produce_without_broker_or_engine_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "p.jsonl", '{"entity": "h", "ts": 1, "values": [1]}\n')
    result = invoke("produce", str(path), "--api-url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "KAFKA_BOOTSTRAP_SERVERS is not set and no engine answers at" in result.stderr


# ---------------------------------------------------------------------------------------- config


def test_config_apply_applies_the_readme_payload(api: Served, tmp_path: Path) -> None:
    path = write(tmp_path, "config.json", json.dumps(README_PAYLOAD))
    result = invoke("config", "apply", str(path), "--api-url", api.url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "applied metrics-v1 version 1.0: zscore on the metrics stream, alerts to pagerduty, slack\n"
    )
    assert api.engine.get_config("metrics-v1") is not None
    assert api.engine.actors == ["loopback"]


def test_config_apply_prints_the_field_errors_as_sentences(api: Served, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(README_PAYLOAD))
    bad["configs"][0]["params"]["std"] = [5, 0]
    path = write(tmp_path, "bad.json", json.dumps(bad))
    result = invoke("config", "apply", str(path), "--api-url", api.url)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: the engine refused the configuration:\n"
        "  configs[0].params: std[1] must be positive, got 0.0\n"
    )
    assert api.engine.configs == {}


def test_config_apply_takes_one_object_from_stdin_and_the_get_output_back(api: Served) -> None:
    one = README_PAYLOAD["configs"][0]
    assert (
        invoke("config", "apply", "-", "--api-url", api.url, stdin=json.dumps(one)).exit_code == 0
    )
    shown = invoke("config", "get", "metrics-v1", "--api-url", api.url)
    assert shown.exit_code == 0
    stored = json.loads(shown.stdout)
    assert stored["model_id"] == "metrics-v1" and "updated_at" in stored
    again = invoke("config", "apply", "-", "--api-url", api.url, "--json", stdin=shown.stdout)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["configs"][0]["params"] == one["params"]
    listed = json.loads(invoke("config", "get", "--api-url", api.url).stdout)
    assert [c["model_id"] for c in listed["configs"]] == ["metrics-v1"]


def test_config_get_of_an_unknown_model_says_so(api: Served) -> None:
    result = invoke("config", "get", "nope", "--api-url", api.url)
    assert result.exit_code == 1
    assert result.stderr == "error: no configuration for model 'nope'\n"


def test_config_commands_use_the_keys_of_the_environment(keyed_api: Served, tmp_path: Path) -> None:
    path = write(tmp_path, "config.json", json.dumps(README_PAYLOAD))
    url = ["--api-url", keyed_api.url]
    refused = invoke("config", "apply", str(path), *url)
    assert refused.exit_code == 1
    assert "needs an API key" in refused.stderr and "set ANOMALY_ADMIN_KEY" in refused.stderr
    read_only = invoke("config", "apply", str(path), *url, env={"ANOMALY_READ_KEY": READ_KEY})
    assert read_only.exit_code == 1 and "has the read scope only" in read_only.stderr
    applied = invoke(
        "config", "apply", str(path), *url, env={"ANOMALY_ADMIN_KEY": f"{ADMIN_KEY},x"}
    )
    assert applied.exit_code == 0, applied.stderr
    assert invoke("config", "get", *url, "--key", READ_KEY).exit_code == 0
    assert invoke("config", "get", *url, "--key", "wrong-key-000000").exit_code == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"configs": [', "is not valid JSON"),
        ("42", 'expected {"configs": [...]}, one configuration object, or a list of them'),
    ],
)
def test_config_apply_refuses_a_bad_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "c.json", text)
    result = invoke("config", "apply", str(path), "--api-url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 2 and message in result.stderr


def test_config_without_an_engine_says_so() -> None:
    result = invoke("config", "get", "--api-url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "no engine answers at http://127.0.0.1:" in result.stderr
    assert "start one with `make run`, or pass --api-url" in result.stderr


# ----------------------------------------------------------------------------------- alerts tail

ALERTS, LEDGER = "anomaly.alerts", "anomaly-engine-deliveries-changelog"


def record(topic: str, offset: int, key: Any, value: Any) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=orjson.dumps(key) if key is not None else None,
        value=orjson.dumps(value),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=(),
    )


def incident(entity: str, event: str = "open", seq: int = 0) -> dict[str, Any]:
    return {
        "incident_id": f"inc-{entity}",
        "event": event,
        "seq": seq,
        "entity": entity,
        "model_id": "metrics-v1",
        "models": ["metrics-v1"],
        "severity": "critical",
        "opened_at": "2026-11-27T08:00:40.000Z",
        "summary": f"metrics-v1 on {entity}: feature_0 12.0σ above baseline (160 vs 100±5)",
        "alert_channels": ["slack"],
    }


def test_the_tail_prints_matching_events_then_their_deliveries() -> None:
    shown: list[tuple[str, dict[str, Any]]] = []
    deliveries: list[str] = []
    tail = Tail(
        bootstrap="unused",
        alerts_topic=ALERTS,
        ledger_topic=LEDGER,
        on_event=lambda event, rows: shown.append((event["incident_id"], dict(rows))),
        on_delivery=lambda key, channel, row: deliveries.append(
            f"{key[0]} {channel} {row['status']}"
        ),
        matches=lambda event: event["entity"] != "host-2",
        count=2,
    )
    alerts, ledger = TopicPartition(ALERTS, 0), TopicPartition(LEDGER, 0)
    tail._apply(
        {
            # in one fetch, the delivery row may come before its event: the event prints first
            ledger: [record(LEDGER, 0, "inc-host-1|open|0|slack", {"status": "delivered"})],
            alerts: [
                record(ALERTS, 0, "host-1", incident("host-1")),
                record(ALERTS, 1, "host-2", incident("host-2")),  # filtered out
            ],
        },
        live=True,
    )
    tail._apply(
        {ledger: [record(LEDGER, 1, "inc-host-2|open|0|slack", {"status": "delivered"})]},
        live=True,
    )
    assert shown == [("inc-host-1", {})]
    assert deliveries == ["inc-host-1 slack delivered"]  # none for the event not shown
    assert not tail._done()
    tail._apply(
        {alerts: [record(ALERTS, 2, "host-1", incident("host-1", "resolve", 1))]}, live=True
    )
    assert tail._done()


def test_the_tail_from_the_beginning_shows_past_deliveries_in_the_block() -> None:
    tail = Tail(bootstrap="unused", alerts_topic=ALERTS, ledger_topic=LEDGER, on_event=print)
    alerts, ledger = TopicPartition(ALERTS, 0), TopicPartition(LEDGER, 0)
    past = tail._apply(
        {
            alerts: [record(ALERTS, 0, "host-1", incident("host-1"))],
            ledger: [
                record(
                    LEDGER, 0, "inc-host-1|open|0|slack", {"status": "failed", "error": "HTTP 400"}
                )
            ],
        },
        live=False,
    )
    assert [e["incident_id"] for e in past] == ["inc-host-1"]
    assert tail.deliveries[("inc-host-1", "open", 0)]["slack"]["status"] == "failed"


# ------------------------------------------------------------------- bad input, as a subprocess


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["produce", "{csv}", "--entity", "h"], {}, 2, "error: {csv} is CSV: give --model-id"),
        (["produce", "{missing}"], {}, 2, "does not exist"),
        (
            ["produce", "{csv}", "--model-id", "m", "--entity", "h", "--rate", "fast"],
            {},
            2,
            "Invalid value for '--rate'",
        ),
        (["config", "apply", "{csv}"], {}, 2, "is not valid JSON"),
        (["config", "apply", "{missing}"], {}, 2, "error: cannot read {missing}: No such file"),
        (["config", "get", "--api-url", "{dead}"], {}, 1, "error: no engine answers at"),
        (
            ["alerts", "tail", "--api-url", "{dead}"],
            {},
            1,
            "error: KAFKA_BOOTSTRAP_SERVERS is not set",
        ),
        (
            ["alerts", "tail", "--bootstrap-servers", "127.0.0.1:{port}"],
            {},
            1,
            "error: cannot reach the broker",
        ),
        (["alerts", "tail", "--count", "0"], {}, 2, "Invalid value for '--count'"),
        (["run"], {"ANOMALY_PARTITIONS": "0"}, 2, "error: setting partitions"),
        (["produce", "{csv}"], {"ANOMALY_API_PORT": "nope"}, 2, "error: setting api_port"),
    ],
)
def test_commands_given_bad_input_exit_with_a_sentence_not_a_traceback(
    tmp_path: Path, args: list[str], env: dict[str, str], code: int, message: str
) -> None:
    import os

    port = free_port()
    names = {
        "csv": str(write(tmp_path, "cpu.csv", "timestamp,value\n1795766400,1\n")),
        "missing": str(tmp_path / "missing.csv"),
        "dead": f"http://127.0.0.1:{port}",
        "port": str(port),
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANOMALY_")}
    clean.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    done = subprocess.run(
        [sys.executable, "-m", "app", *[a.format(**names) for a in args]],
        cwd=ROOT,
        env={**clean, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    assert message.format(**names) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# ----------------------------------------------------------------------------------------- bench


def test_bench_hands_its_options_to_the_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(list(argv))
        return 3

    monkeypatch.setattr("bench.__main__.main", fake_main)
    result = invoke("bench", "--quick", "--only", "pipeline")
    assert seen == [["--quick", "--only", "pipeline"]] and result.exit_code == 3
    described = invoke("--help", env={"COLUMNS": "200"})
    assert "bench" in described.stdout and "docs/PERFORMANCE.md" in described.stdout


def test_bench_outside_a_source_checkout_says_where_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.cli._bench_main", lambda: None)
    result = invoke("bench", "--quick")
    assert result.exit_code == 2
    assert "source checkout" in result.stderr and "make bench" in result.stderr


def test_bench_help_lists_the_bench_options() -> None:
    result = invoke("bench", "--help")
    assert result.exit_code == 0
    assert "--quick" in result.stdout and "--only" in result.stdout
