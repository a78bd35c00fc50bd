"""`make demo`'s promise: incidents of every scenario in the dashboard.

Runs `python -m app demo` as `make demo` runs it (its own embedded broker, default topics) on a
free API port, and waits for the first incident of each of the demo's scenarios in `GET
/anomaly/alerts`, which the dashboard polls. The time each took from the start of the process is
reported on failure, not asserted: the demo shows them within 30 s on an idle machine, and a
wall-clock bound fails on a loaded one for no fault of the code (issue 18).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.worker.kafka.broker import free_port
from tests.integration.harness import ROOT, wait_until

PROMISE_S = 30.0
# The demo's scenarios, by (model, entity); web-1 is a healthy host and must stay quiet.
SCENARIOS = {
    ("demo-metrics", "web-2"): "a spike",
    ("demo-metrics", "db-1"): "a slow drift",
    ("demo-logs", "api-1"): "an error burst",
    ("demo-behavior", "user-42"): "a rare path",
}


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Print past pytest's output capture, so every run shows the figures."""
    capture: Any = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(line)


def scored_points(exposition: str) -> float:
    r"""The sum of ``anomaly_points_scored_total`` over its labels in a /metrics page.

    >>> scored_points('# HELP x\nanomaly_points_scored_total{model_id="a"} 3.0\n'
    ...               'anomaly_points_scored_total{model_id="b"} 2.0\nother_total 9.0\n')
    5.0
    """
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("anomaly_points_scored_total")
    )


def test_make_demo_shows_an_incident_of_every_scenario(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANOMALY_") and k != "KAFKA_BOOTSTRAP_SERVERS"
    }
    env.update(
        ANOMALY_API_PORT=str(port),
        ANOMALY_DATA_DIR=str(tmp_path / "data"),
        ANOMALY_EMBEDDED_BROKER_PORT="0",  # a free port: never a broker `make run` left on 9092
        PYTHONUNBUFFERED="1",
    )
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "demo"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    first_seen: dict[tuple[str, str], float] = {}
    summaries: dict[tuple[str, str], str] = {}

    def every_scenario_has_an_incident() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the demo exited with {process.returncode}:\n{log_tail()}")
        alerts = httpx.get(url + "/anomaly/alerts", timeout=2).json()["alerts"]
        for alert in alerts:
            key = (alert["model_id"], alert["entity"])
            first_seen.setdefault(key, time.monotonic() - started)
            summaries.setdefault(key, alert["summary"])
        return set(SCENARIOS) <= set(first_seen)

    def log_tail() -> str:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])

    try:
        try:
            wait_until(every_scenario_has_an_incident, 300, "an incident of every scenario", 0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; first seen: {first_seen}\n{log_tail()}") from None
        page = httpx.get(url + "/ui/", timeout=5)
        assert page.status_code == 200 and "Incidents" in page.text
        # `curl localhost:8000/metrics` shows the counters moving under the feed
        before = scored_points(httpx.get(url + "/metrics", timeout=5).text)
        wait_until(
            lambda: scored_points(httpx.get(url + "/metrics", timeout=5).text) > before,
            120,
            "GET /metrics to count more scored points",
            0.5,
        )
        assert before > 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    first = min(at for key, at in first_seen.items() if key in SCENARIOS)
    timings = ", ".join(
        f"{entity} ({model}) {at:.1f} s" for (model, entity), at in sorted(first_seen.items())
    )
    late = {
        SCENARIOS[k]: round(at, 1)
        for k, at in first_seen.items()
        if k in SCENARIOS and at >= PROMISE_S
    }
    report(
        request,
        f"\nmake demo: first incident after {first:.1f} s: {timings}"
        + (f" (after the {PROMISE_S:.0f} s of an idle machine: {late})" if late else ""),
    )
    assert "/ui/" in log_path.read_text(), "the demo prints the dashboard's address"
    unexpected = {k: summaries[k] for k in first_seen if k not in SCENARIOS}
    assert not unexpected, f"incidents where the demo injected nothing: {unexpected}"
