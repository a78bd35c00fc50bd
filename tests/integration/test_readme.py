"""The README walk-through, pasted as written, shows an incident."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import EngineProcess, wait_until

ROOT = Path(__file__).resolve().parents[2]


def walkthrough_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Walk-through", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks[0].strip() == "make run", "the walk-through starts with make run"
    return blocks[1:]


def run_block(block: str, engine: EngineProcess) -> str:
    """Run a README shell block against the test's worker (its port, topics and broker)."""
    script = block.replace("localhost:8000", f"localhost:{engine.port}").replace(
        ".venv/bin/anomaly-engine", f"{sys.executable} -m app"
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=engine.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_readme_walkthrough_shows_an_incident(engine: EngineProcess) -> None:
    apply, produce, read_alerts, score = walkthrough_blocks()
    assert json.loads(run_block(apply, engine))["configs"][0]["model_id"] == "metrics-v1"
    assert run_block(produce, engine).startswith("sent 4 messages")
    # A reader types the next command seconds later; the test waits for the incident instead.
    incidents = wait_until(
        lambda: json.loads(run_block(read_alerts, engine))["alerts"], 20, "the README's incident"
    )
    assert [i["entity"] for i in incidents] == ["host-1"]
    assert "160 vs 100±5" in incidents[0]["summary"]
    assert json.loads(run_block(score, engine))["metrics"]["f1"] == 1.0
