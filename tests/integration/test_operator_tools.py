"""The operator's view with a real worker: `GET /metrics` moves with the telemetry, the CLI replays
a CSV, applies a configuration and tails the incident, and JSON logs name the incident."""

from __future__ import annotations

import json
import queue
import random
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.worker.engine import partition_for
from tests.integration.harness import (
    README_CONFIG,
    ROOT,
    EngineProcess,
    point,
    produce_aiokafka,
    wait_until,
)
from tests.integration.receivers import Receiver, Reply

Spawn = Callable[..., EngineProcess]
T0 = 1795766400.0  # 2026-11-27T08:00:00Z
ADMIN_KEY = "operator-admin-key-4e9b1c7d2a5f8036"


def config_for(channels: list[str]) -> dict[str, Any]:
    config = json.loads(json.dumps(README_CONFIG))
    config["configs"][0]["alert_channels"] = channels
    return config


def values(n: int) -> list[list[float]]:
    """``n`` normal points of the README's model, then a point that the detector flags but
    persistence suppresses (108: 1.6σ), two normal points, and a spike that opens an incident."""
    rng = random.Random(1)
    normal = [[100 + rng.gauss(0, 0.3), 5 + rng.gauss(0, 0.1)] for _ in range(n)]
    return [*normal, [108.0, 5.0], [100.0, 5.0], [100.0, 5.0], [160.0, 5.0]]


def scrape(engine: EngineProcess) -> dict[tuple[str, frozenset[Any]], float]:
    """The samples of GET /metrics (without a key), as Prometheus parses them."""
    response = engine.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


# ------------------------------------------------------------------------------------- metrics


def test_metrics_count_messages_points_incidents_deliveries_dlq_and_lag(
    spawn: Spawn, bootstrap: str, names: dict[str, str]
) -> None:
    topic = names["metrics_topic"]
    with Receiver(default=204) as webhook:
        engine = spawn(
            env={"ANOMALY_ADMIN_KEY": ADMIN_KEY, "ANOMALY_WEBHOOK_URL": webhook.url + "/hook"}
        )
        before = scrape(engine)  # open without a key, like /health
        assert not [name for name, _ in before if name == "anomaly_points_scored_total"]
        response = httpx.post(
            engine.url + "/anomaly/config",
            json=config_for(["webhook"]),
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        points = values(30)
        produce_aiokafka(
            bootstrap,
            topic,
            [
                *[
                    (b"host-1", point("metrics-v1", "host-1", T0 + 10 * i, v))
                    for i, v in enumerate(points)
                ],
                (b"host-1", b"not json at all"),
            ],
        )
        model = labels(model_id="metrics-v1")
        webhook_delivered = labels(channel="webhook", outcome="delivered")

        def settled() -> dict[tuple[str, frozenset[Any]], float] | None:
            found = scrape(engine)
            done = (
                found.get(("anomaly_points_scored_total", model)) == len(points)
                and found.get(("anomaly_deliveries_total", webhook_delivered)) == 1
                and found.get(("anomaly_dlq_messages_total", labels(topic=topic))) == 1
            )
            return found if done else None

        after = wait_until(settled, 30, "the counters to count every point, the page and the DLQ")
    assert after[("anomaly_messages_total", labels(topic=topic))] == len(points) + 1
    assert after[("anomaly_points_total", labels(topic=topic))] == len(points)
    assert after[("anomaly_anomalies_total", model)] == 2
    assert after[("anomaly_alerts_total", model)] == 1
    persistence = labels(model_id="metrics-v1", reason="persistence")
    assert after[("anomaly_alerts_suppressed_total", persistence)] == 1
    assert after[("anomaly_incidents_opened_total", model)] == 1
    assert after[("anomaly_incident_events_published_total", labels(event="open"))] == 1
    assert after[("anomaly_scoring_seconds_count", labels(topic=topic))] == len(points)
    assert after[("anomaly_scoring_seconds_sum", labels(topic=topic))] > 0
    assert not any("entity" in dict(pairs) for _, pairs in after)

    # consumer lag: only the partition with data, down to zero once the worker has committed
    owner = str(partition_for("host-1", 4))

    def caught_up() -> dict[str, float] | None:
        lag = {
            dict(pairs)["partition"]: value
            for (name, pairs), value in scrape(engine).items()
            if name == "anomaly_consumer_lag" and dict(pairs)["topic"] == topic
        }
        return lag if lag and all(v == 0 for v in lag.values()) else None

    assert list(wait_until(caught_up, 30, "the lag to reach 0")) == [owner]


# ----------------------------------------------------------------------------------------- CLI


def cli(engine: EngineProcess, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=cli_env(engine),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_env(engine: EngineProcess) -> dict[str, str]:
    """The worker's settings (API port, topic names) without the broker: the CLI asks the API."""
    return {k: v for k, v in engine.env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}


class Follower:
    """`anomaly-engine alerts tail` in the background, its stderr read line by line."""

    def __init__(self, engine: EngineProcess, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "alerts", "tail", *args],
            cwd=ROOT,
            env=cli_env(engine),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.errors: queue.Queue[str] = queue.Queue()
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stderr,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.errors.put(line)

    def wait_following(self, timeout: float = 30) -> str:
        line = self.errors.get(timeout=timeout)
        assert line.startswith("following "), line
        return line

    def finish(self, timeout: float = 30) -> str:
        out, _ = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, (self.process.returncode, out)
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def test_cli_replays_a_csv_applies_a_config_and_tails_the_incident(
    spawn: Spawn, tmp_path: Path, names: dict[str, str]
) -> None:
    with Receiver(default=Reply(200, "ok")) as slack:
        engine = spawn(env={"ANOMALY_SLACK_WEBHOOK_URL": slack.url + "/services/T1/B2/x"})
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(README_CONFIG))
        applied = cli(engine, "config", "apply", str(config_file))
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout == (
            "applied metrics-v1 version 1.0: zscore on the metrics stream, alerts to pagerduty, "
            "slack\n"
        )

        follower = Follower(engine, "--count", "1")
        try:
            follower.wait_following()
            csv_file = tmp_path / "host-1.csv"
            rows = [
                f"2026-11-27T08:{(10 * i) // 60:02d}:{(10 * i) % 60:02d}Z,{cpu:.3f},{mem:.3f}"
                for i, (cpu, mem) in enumerate(values(27))
            ]
            csv_file.write_text("timestamp,cpu,mem\n" + "\n".join(rows) + "\n")
            sent = cli(
                engine,
                "produce",
                str(csv_file),
                "--model-id",
                "metrics-v1",
                "--entity",
                "host-1",
                "--rate",
                "100",
                "--batch",
                "4",
            )
            assert sent.returncode == 0, sent.stderr
            assert sent.stdout.startswith(
                f"sent 8 messages (31 points) to {names['metrics_topic']} at "
            ), sent.stdout
            seconds = float(re.search(r" in ([0-9.]+) s ", sent.stdout).group(1))  # type: ignore[union-attr]
            assert seconds >= 0.25  # the last batch starts at point 28: not before 0.28 s at 100/s
            tailed = follower.finish()
        finally:
            follower.stop()

        [incident] = wait_until(lambda: engine.alerts(entity="host-1"), 20, "the incident")
        head, summary, model, deliveries = tailed.strip().splitlines()
        assert head == f"{incident['opened_at']}  OPEN  critical  host-1  {incident['incident_id']}"
        assert summary == "  metrics-v1 on host-1: feature_0 12.0σ above baseline (160 vs 100±5)"
        assert model == "  model metrics-v1 version 1.0, score 12 over threshold 1.5, seq 0"
        assert deliveries.startswith("  deliveries: pagerduty ")

        wait_until(
            lambda: incident_delivered(engine, "slack"), 20, "the incident delivered to Slack"
        )
        again = cli(engine, "alerts", "tail", "--from-beginning", "--count", "1", timeout=30)
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[3] == (
            "  deliveries: pagerduty no delivery recorded, slack delivered (HTTP 200)"
        )
        raw = cli(engine, "alerts", "tail", "--from-beginning", "--count", "1", "--json")
        assert json.loads(raw.stdout)["incident_id"] == incident["incident_id"]
        assert len(slack.requests) == 1


def incident_delivered(engine: EngineProcess, channel: str) -> bool:
    alerts = engine.alerts(entity="host-1")
    rows = alerts[0]["deliveries"].get(channel, {}) if alerts else {}
    return rows.get("open", {}).get("status") == "delivered"


# ---------------------------------------------------------------------------------------- logs


def test_json_logs_name_the_incident_and_keep_secrets_out(
    spawn: Spawn, bootstrap: str, names: dict[str, str]
) -> None:
    token = "w3bh00kT0k3nS3CR3T"
    with Receiver(default=204) as webhook:
        engine = spawn(
            env={
                "ANOMALY_LOG_FORMAT": "json",
                "ANOMALY_WEBHOOK_URL": webhook.url + f"/hook?token={token}",
            }
        )
        assert engine.post("/anomaly/config", config_for(["webhook"])).status_code == 200
        produce_aiokafka(
            bootstrap,
            names["metrics_topic"],
            [
                (b"host-1", point("metrics-v1", "host-1", T0 + 10 * i, v))
                for i, v in enumerate(values(5))
            ],
        )
        wait_until(
            lambda: "delivered to webhook" in engine.log_path.read_text(errors="replace"),
            30,
            "the delivery in the log",
        )
    text = engine.log_path.read_text(errors="replace")
    lines = [line for line in text.splitlines() if line and not line.startswith("===== start")]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    [incident] = engine.alerts(entity="host-1")
    ident = incident["incident_id"]
    [opened] = [r for r in records if r["message"].startswith(f"incident {ident} open")]
    assert opened["level"] == "info" and opened["logger"] == "app.engine"
    assert (opened["incident_id"], opened["model_id"], opened["entity"]) == (
        ident,
        "metrics-v1",
        "host-1",
    )
    [delivered] = [r for r in records if "delivered to webhook" in r["message"]]
    assert (delivered["incident_id"], delivered["model_id"], delivered["channel"]) == (
        ident,
        "metrics-v1",
        "webhook",
    )
    # httpx logged the request's URL, with the token in it: redacted, in a JSON line
    requests = [r for r in records if r["logger"] == "httpx"]
    assert requests and requests[0]["message"].startswith("HTTP Request: POST [redacted]")
    assert token not in text
    assert any(r["message"] == "[^Worker]: Ready" for r in records)
