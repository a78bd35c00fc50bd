"""The backtest runner: known precision/recall on a generated labelled set, the CSV writer,
--decisions at the incident points, and the error sentences."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.backtest.inputs import BacktestError, find_series, load_config, read_labels, read_series
from app.backtest.run import print_report, run_backtest
from app.backtest.scoring import continuous_score, score_series

START = datetime(2014, 2, 19, 10, 0, tzinfo=UTC).timestamp()
STEP = 300.0

# A static z-score (100 ± 5, threshold 3): a value of 130 is flagged, 100 is not. Every flagged
# point alerts (no persistence or minimum-deviation suppression), and an incident stays open
# while the next point alerts within 900 s.
CONFIG = {
    "model_id": "bt",
    "detector": "zscore",
    "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
    "suppression": {"persistence": {"k": 1, "n": 1}, "min_rel_deviation": 0.0},
    "resolve_after": 900,
}

# File a: spikes at 10, 11 and 30; one window over 9..12.
# File b: a spike at 40; windows over 38..41 (detected) and 20..22 (missed).
SPIKES = {"cat/a.csv": [10, 11, 30], "cat/b.csv": [40]}
WINDOWS = {"cat/a.csv": [(9, 12)], "cat/b.csv": [(20, 22), (38, 41)]}
N = 50


def _stamp(i: int) -> str:
    return datetime.fromtimestamp(START + STEP * i, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _make_set(root: Path) -> tuple[Path, Path, Path]:
    data = root / "data"
    for key, spikes in SPIKES.items():
        path = data / key
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [(_stamp(i), "130" if i in spikes else "100") for i in range(N)]
        path.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows))
    labels = root / "labels.json"
    labels.write_text(
        json.dumps(
            {
                key: [[_stamp(a) + ".000000", _stamp(b) + ".000000"] for a, b in spans]
                for key, spans in WINDOWS.items()
            }
        )
    )
    config = root / "config.json"
    config.write_text(json.dumps(CONFIG))
    return data, labels, config


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_known_precision_and_recall(tmp_path: Path) -> None:
    data, labels, config = _make_set(tmp_path)
    report = run_backtest(data, config, tmp_path / "out", "engine", labels)
    by_key = {r.key: r.metrics for r in report.files}
    a, b = by_key["cat/a.csv"], by_key["cat/b.csv"]
    assert a is not None and b is not None
    # a: alerts at 10, 11 (in the window 9..12) and 30 (outside); 9 and 12 are missed.
    assert (a["point"]["tp"], a["point"]["fp"], a["point"]["fn"]) == (2, 1, 2)
    assert a["point"]["precision"] == pytest.approx(2 / 3)
    assert a["point"]["recall"] == pytest.approx(2 / 4)
    assert a["event"]["windows"] == 1 and a["event"]["detected"] == 1
    assert (a["event"]["alarms"], a["event"]["false_alarms"]) == (2, 1)
    assert a["event"]["delays_points"] == [1] and a["event"]["delays_seconds"] == [STEP]
    # b: one alert at 40 (window 38..41), the window 20..22 is missed.
    assert (b["point"]["tp"], b["point"]["fp"], b["point"]["fn"]) == (1, 0, 6)
    assert b["point"]["precision"] == 1.0 and b["point"]["recall"] == pytest.approx(1 / 7)
    assert b["event"]["delays_points"] == [None, 2]
    overall = report.overall
    assert overall is not None
    assert overall["point"]["precision"] == pytest.approx(3 / 4)
    assert overall["point"]["recall"] == pytest.approx(3 / 11)
    assert overall["point"]["f1"] == pytest.approx(2 * 0.75 * (3 / 11) / (0.75 + 3 / 11))
    # 100 points, 3 + 88 of them right (tp 3, fp 1, fn 8, tn 88)
    assert overall["point"]["tn"] == 88 and overall["point"]["accuracy"] == pytest.approx(0.91)
    event = overall["event"]
    assert (event["windows"], event["detected"], event["alarms"], event["false_alarms"]) == (
        3,
        2,
        3,
        1,
    )
    assert event["recall"] == pytest.approx(2 / 3) and event["precision"] == pytest.approx(2 / 3)
    assert event["mean_delay_points"] == pytest.approx(1.5)
    out = io.StringIO()
    print_report(report, out)
    assert "accuracy 0.9100" in out.getvalue()


def test_result_files_have_one_row_per_input_row_in_order(tmp_path: Path) -> None:
    data, labels, config = _make_set(tmp_path)
    # Put one row out of event-time order: the output keeps the input's order and text.
    path = data / "cat/a.csv"
    lines = path.read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    path.write_text("\n".join(lines) + "\n")
    run_backtest(data, config, tmp_path / "out", "engine", labels)
    for key in SPIKES:
        category, name = key.split("/")
        rows = _rows(tmp_path / "out" / category / f"engine_{name}")
        with (data / key).open(newline="") as handle:
            inputs = list(csv.DictReader(handle))
        assert [r["timestamp"] for r in rows] == [r["timestamp"] for r in inputs]
        assert [r["value"] for r in rows] == [r["value"] for r in inputs]
        assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
        scores = [float(r["anomaly_score"]) for r in rows]
        assert all(0.0 <= s <= 1.0 for s in scores)
        spikes = {_stamp(i) for i in SPIKES[key]}
        for row, score in zip(rows, scores, strict=True):
            assert (score > 0.5) == (row["timestamp"] in spikes)  # above the threshold: > 0.5
    labels_a = [r["label"] for r in _rows(tmp_path / "out/cat/engine_a.csv")]
    ordered_a = sorted(range(N), key=lambda i: (i != 3, i))  # rows 3 and 4 swapped in the input
    assert labels_a.count("1") == 4
    assert labels_a[9:13] == ["1", "1", "1", "1"]
    assert ordered_a  # the swap did not touch the labelled rows


def test_decisions_are_one_exactly_where_an_incident_opened(tmp_path: Path) -> None:
    data, labels, config_path = _make_set(tmp_path)
    run_backtest(data, config_path, tmp_path / "out", "engine", labels, decisions=True)
    config = load_config(config_path)
    for key in SPIKES:
        points, _ = score_series(config, read_series(data, key))
        opened = [p.incident_id is not None for p in points]
        category, name = key.split("/")
        rows = _rows(tmp_path / "out" / category / f"engine_{name}")
        assert [r["anomaly_score"] for r in rows] == ["1" if o else "0" for o in opened]
    # The spike at 11 joins the incident the spike at 10 opened; 30 and 40 open their own.
    a = [r["anomaly_score"] for r in _rows(tmp_path / "out/cat/engine_a.csv")]
    assert [i for i, s in enumerate(a) if s == "1"] == [10, 30]


def test_continuous_score_is_the_engines_score_over_score_plus_threshold(tmp_path: Path) -> None:
    data, _, config_path = _make_set(tmp_path)
    points, _ = score_series(load_config(config_path), read_series(data, "cat/a.csv"))
    assert points[10].score == pytest.approx(6.0)
    assert continuous_score(points[10]) == pytest.approx(6.0 / 9.0)
    assert continuous_score(points[0]) == 0.0


def test_without_labels_there_are_no_metrics(tmp_path: Path) -> None:
    data, _, config = _make_set(tmp_path)
    report = run_backtest(data, config, tmp_path / "out", "engine")
    assert report.overall is None and all(r.metrics is None for r in report.files)
    rows = _rows(tmp_path / "out/cat/engine_b.csv")
    assert {r["label"] for r in rows} == {"0"}


def test_parallel_jobs_give_the_same_files(tmp_path: Path) -> None:
    data, labels, config = _make_set(tmp_path)
    one = run_backtest(data, config, tmp_path / "one", "engine", labels)
    two = run_backtest(data, config, tmp_path / "two", "engine", labels, jobs=2)
    for key in SPIKES:
        category, name = key.split("/")
        assert (tmp_path / "one" / category / f"engine_{name}").read_text() == (
            tmp_path / "two" / category / f"engine_{name}"
        ).read_text()
    assert one.overall == two.overall


def test_epoch_timestamps_and_a_wrapped_config(tmp_path: Path) -> None:
    path = tmp_path / "data/x/e.csv"
    path.parent.mkdir(parents=True)
    path.write_text("timestamp,value\n1392804000,100\n1392804300,130\n1392804600,\n")
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"configs": [CONFIG]}))
    series = read_series(tmp_path / "data", "x/e.csv")
    assert series.ts == [1392804000.0, 1392804300.0, 1392804600.0]
    points, _ = score_series(load_config(config), series)
    assert [p.is_anomaly for p in points] == [False, True, False]  # the empty value is a gap


# --- errors: sentences, no tracebacks ----------------------------------------------------------


def _error(call: object) -> str:
    with pytest.raises(BacktestError) as info:
        call()  # type: ignore[operator]
    return str(info.value)


def test_missing_data_folder(tmp_path: Path) -> None:
    message = _error(lambda: find_series(tmp_path / "nope"))
    assert message == f"the data folder {tmp_path / 'nope'} does not exist."


def test_data_folder_without_csv_files(tmp_path: Path) -> None:
    assert "has no CSV files in the layout <category>/<file>.csv" in _error(
        lambda: find_series(tmp_path)
    )


def test_csv_without_the_right_columns(tmp_path: Path) -> None:
    path = tmp_path / "c/f.csv"
    path.parent.mkdir()
    path.write_text("time,val\n1,2\n")
    message = _error(lambda: read_series(tmp_path, "c/f.csv"))
    assert message == (
        f"{path} must start with a header naming the columns timestamp and value, got time,val."
    )


def test_csv_with_a_bad_timestamp_or_value(tmp_path: Path) -> None:
    path = tmp_path / "c/f.csv"
    path.parent.mkdir()
    path.write_text("timestamp,value\n2014-01-01 00:00:00,1\nyesterday,2\n")
    assert f"{path} line 3: timestamp 'yesterday' is neither ISO-8601 nor epoch seconds" in _error(
        lambda: read_series(tmp_path, "c/f.csv")
    )
    path.write_text("timestamp,value\n2014-01-01 00:00:00,lots\n")
    assert _error(lambda: read_series(tmp_path, "c/f.csv")) == (
        f"{path} line 2: value 'lots' is not a number."
    )


def test_label_key_that_names_no_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text('{"cat/zzz.csv": []}')
    assert _error(lambda: read_labels(labels, ["cat/a.csv"])) == (
        f"the labels file {labels} names cat/zzz.csv, which is not a file of the data folder."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "is not valid JSON: Expecting property name enclosed in double quotes at line 1."),
        ("[]", "must be a JSON object mapping <category>/<file>.csv to a list of [start, end]"),
        ('{"cat/a.csv": [["2014-01-02", "2014-01-01"]]}', "window 0 of cat/a.csv ends before it"),
        ('{"cat/a.csv": [["2014-01-02"]]}', "window 0 of cat/a.csv must be [start, end]"),
        ('{"cat/a.csv": [["soon", "2014-01-01"]]}', "window 0 of cat/a.csv: start 'soon' is"),
    ],
)
def test_bad_labels(tmp_path: Path, text: str, expected: str) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(text)
    assert expected in _error(lambda: read_labels(labels, ["cat/a.csv"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{nope", "is not valid JSON"),
        ('{"detector": "nope"}', "is not a valid configuration: detector: unknown detector 'nope'"),
        (
            '{"detector": "zscore", "params": {"std": [0]}}',
            "params: mean and std must be given together",
        ),
        ('{"configs": []}', 'must hold one configuration, or {"configs": [one]}'),
        ('{"detector": "zscore", "colour": 1}', "colour: unknown field"),
        ("[1]", "must hold a JSON object"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "c.json"
    config.write_text(text)
    assert expected in _error(lambda: load_config(config))


def test_missing_config_file(tmp_path: Path) -> None:
    assert _error(lambda: load_config(tmp_path / "none.json")).startswith(
        f"cannot read the config file {tmp_path / 'none.json'}: "
    )


def test_name_with_an_underscore_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    data, labels, config = _make_set(tmp_path)
    message = _error(lambda: run_backtest(data, config, tmp_path / "out", "my_run", labels))
    assert message == "--name must be letters, digits, '.' or '-' (no '_'), got 'my_run'."
    assert not (tmp_path / "out").exists()


def test_a_bad_file_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    data, labels, config = _make_set(tmp_path)
    (data / "cat/c.csv").write_text("timestamp\n1\n")
    assert "must start with a header" in _error(
        lambda: run_backtest(data, config, tmp_path / "out", "engine", labels)
    )
    assert not (tmp_path / "out").exists()
