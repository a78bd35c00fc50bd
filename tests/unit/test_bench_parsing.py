"""The bench's readings: rates from progress samples, Server-Timing, logs, /proc, backtest output."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.backtest_time import command, reported_points
from bench.cluster import BenchError, Cluster, topic_names
from bench.memory import vm_rss_bytes
from bench.pipeline import describe_stats, steady_rate
from bench.score_api import server_timing_ms, worker_error


def test_steady_rate_skips_the_first_tenth_and_stops_at_the_final_count() -> None:
    samples = [(10.0, 0), (11.0, 50), (12.0, 100), (13.0, 600), (14.0, 1000), (15.0, 1000)]
    timing = steady_rate(samples, "test")
    assert (timing.points, timing.seconds) == (900, 2.0)
    assert timing.rate == 450.0


def test_steady_rate_of_a_capped_run_uses_what_was_counted() -> None:
    samples = [(0.0, 10), (1.0, 200), (2.0, 400)]  # the backlog was 10,000: cut after 2 s
    assert steady_rate(samples, "test").rate == 200.0


@pytest.mark.parametrize("samples", [[], [(0.0, 0)], [(0.0, 1), (1.0, 1)]])
def test_steady_rate_needs_progress(samples: list[tuple[float, int]]) -> None:
    with pytest.raises(BenchError):
        steady_rate(samples, "test")


@pytest.mark.parametrize(
    ("header", "ms"),
    [
        ("total;dur=12.5", 12.5),
        ('db;dur=53, app;dur=47.2;desc="x"', 47.2),
        ("score;dur=3, decode;dur=9.0", 9.0),
        ('total;desc="no dur"', None),
        ("", None),
        ("total;dur=abc, score;dur=4", 4.0),
    ],
)
def test_server_timing(header: str, ms: float | None) -> None:
    assert server_timing_ms(header) == ms


def test_worker_error_takes_the_last_error_line() -> None:
    log = "\n".join(
        [
            '{"level":"error","message":"first"}',
            "not json",
            '{"level":"warning","message":"warn"}',
            '{"level":"error","message":"MessageSizeTooLargeError"}',
        ]
    )
    assert worker_error(log) == "MessageSizeTooLargeError"


def test_vm_rss_from_proc() -> None:
    assert vm_rss_bytes() > 1_000_000  # this very process
    with pytest.raises(RuntimeError):
        vm_rss_bytes("Name:\tpython\n")


def test_reported_points_and_backtest_command(tmp_path: Path) -> None:
    assert reported_points("29 files, 101542 points in 6.2 s (16,305 points/s)") == 101542
    argv = command(tmp_path, 2)
    assert argv[:4] == ["python", "-m", "app", "backtest"]
    assert argv[argv.index("--jobs") + 1] == "2" and str(tmp_path) in argv


def test_topic_names_are_unique_per_run_but_share_the_config_topic() -> None:
    a, b = topic_names("bench-a", "c"), topic_names("bench-b", "c")
    assert a["config_topic"] == b["config_topic"] == "c"
    assert not ({v for k, v in a.items() if k != "config_topic"} & set(b.values()))


def test_describe_stats() -> None:
    assert describe_stats({}) == "no points counted"
    assert "1.0 % flagged" in describe_stats({"points": 1000, "anomalies": 10})


def test_bench_workers_never_get_alert_channels_or_api_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANOMALY_PAGERDUTY_ROUTING_KEY", "R0UTING")
    monkeypatch.setenv("ANOMALY_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X")
    monkeypatch.setenv("ANOMALY_ADMIN_KEY", "secret")
    monkeypatch.setenv("ANOMALY_FETCH_MAX_WAIT_MS", "20")
    cluster = Cluster()
    try:
        env = cluster.env(topic_names("bench-t"), {"ANOMALY_SCORE_BURST": "9"})
    finally:
        cluster.close()
    assert not {k for k in env if k.startswith("ANOMALY_") and ("KEY" in k or "URL" in k)}
    assert env["ANOMALY_FETCH_MAX_WAIT_MS"] == "20"  # tuning a user exported still applies
    assert env["ANOMALY_APP_ID"] == "bench-t" and env["ANOMALY_SCORE_BURST"] == "9"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == cluster.bootstrap
