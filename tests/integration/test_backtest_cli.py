"""`anomaly-engine backtest` as a user runs it: a subprocess on a generated labelled set."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2014, 2, 19, 10, 0, tzinfo=UTC).timestamp()

# Every value is 100 except the spikes (130); a static z-score flags exactly the spikes.
SPIKES = {"web/a.csv": [10, 11, 30], "db/b.csv": [40]}
WINDOWS = {"web/a.csv": [(9, 12)], "db/b.csv": [(20, 22), (38, 41)]}
CONFIG = {
    "detector": "zscore",
    "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
    "suppression": {"persistence": {"k": 1, "n": 1}, "min_rel_deviation": 0.0},
    "resolve_after": 900,
}


def _stamp(i: int) -> str:
    return datetime.fromtimestamp(START + 300 * i, UTC).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def labelled_set(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    for key, spikes in SPIKES.items():
        path = data / key
        path.parent.mkdir(parents=True)
        path.write_text(
            "timestamp,value\n"
            + "".join(f"{_stamp(i)},{130 if i in spikes else 100}\n" for i in range(50))
        )
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps({k: [[_stamp(a), _stamp(b)] for a, b in w] for k, w in WINDOWS.items()})
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"configs": [CONFIG]}))
    return {"data": data, "labels": labels, "config": config, "out": tmp_path / "out"}


def _backtest(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "backtest", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _scores(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return [row["anomaly_score"] for row in csv.DictReader(handle)]


def test_backtest_writes_results_and_prints_metrics(labelled_set: dict[str, Path]) -> None:
    s = labelled_set
    run = _backtest(
        "--data", s["data"], "--labels", s["labels"], "--config", s["config"],
        "--out", s["out"], "--name", "engine",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "[1/2] db/b.csv (50 points, 1 incidents)" in run.stderr
    assert "[2/2] web/a.csv (50 points, 2 incidents)" in run.stderr
    assert "points/s" in run.stderr
    assert (
        "overall point-wise: precision 0.750 recall 0.273 F1 0.400 accuracy 0.9100 "
        "(tp 3, fp 1, fn 8, tn 88)" in run.stdout
    )
    assert "overall event-wise: 2/3 windows detected, 3 alarms (1 false)" in run.stdout
    assert "mean delay 1.5 pts (8 min)" in run.stdout
    web = [line for line in run.stdout.splitlines() if line.startswith("web/a.csv")]
    assert web and web[0].split()[1:4] == ["0.67", "0.50", "0.57"]
    for key, spikes in SPIKES.items():
        category, name = key.split("/")
        scores = [float(v) for v in _scores(s["out"] / category / f"engine_{name}")]
        assert len(scores) == 50
        assert [i for i, v in enumerate(scores) if v > 0.5] == spikes
        assert all(0.0 <= v <= 1.0 for v in scores)


def test_decisions_mark_the_points_that_opened_incidents(labelled_set: dict[str, Path]) -> None:
    s = labelled_set
    run = _backtest(
        "--data", s["data"], "--labels", s["labels"], "--config", s["config"],
        "--out", s["out"], "--name", "engine", "--decisions",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    a = _scores(s["out"] / "web/engine_a.csv")
    b = _scores(s["out"] / "db/engine_b.csv")
    assert [i for i, v in enumerate(a) if v == "1"] == [10, 30]
    assert [i for i, v in enumerate(b) if v == "1"] == [40]
    assert set(a) | set(b) == {"0", "1"}


def test_without_labels_it_only_scores(labelled_set: dict[str, Path]) -> None:
    s = labelled_set
    run = _backtest(
        "--data", s["data"], "--config", s["config"], "--out", s["out"], "--name", "engine"
    )
    assert run.returncode == 0, run.stderr
    assert "scored 2 files" in run.stdout and "precision" not in run.stdout
    assert (s["out"] / "db/engine_b.csv").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing config", "error: cannot read the config file"),
        ("bad json", "is not valid JSON"),
        ("bad columns", "must start with a header naming the columns timestamp and value"),
        ("unknown label key", "names web/zzz.csv, which is not a file of the data folder."),
        ("underscore", "--name must be letters, digits, '.' or '-' (no '_')"),
    ],
)
def test_bad_input_exits_2_with_a_sentence(
    labelled_set: dict[str, Path], change: str, message: str
) -> None:
    s = labelled_set
    name = "engine"
    if change == "missing config":
        s["config"].unlink()
    elif change == "bad json":
        s["config"].write_text("{")
    elif change == "bad columns":
        (s["data"] / "web/a.csv").write_text("time,val\n1,2\n")
    elif change == "unknown label key":
        s["labels"].write_text('{"web/zzz.csv": []}')
    else:
        name = "my_run"
    run = _backtest(
        "--data", s["data"], "--labels", s["labels"], "--config", s["config"],
        "--out", s["out"], "--name", name,
    )  # fmt: skip
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert not s["out"].exists()
