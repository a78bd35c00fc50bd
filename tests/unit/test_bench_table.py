"""The bench table: number formats, verdicts against targets, one aligned Markdown table."""

from __future__ import annotations

import math

import pytest

from bench.summary import Summary
from bench.table import Row, Target, fmt, format_table


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1_234_567.8, "rate", "1,234,568/s"),
        (0.256, "ratio", "25.6 %"),
        (99.94, "ms", "99.9 ms"),
        (150.2, "ms", "150 ms"),
        (0.215, "us", "0.21 µs"),
        (2048.0, "bytes", "2,048 B"),
        (54.3, "times", "54.3×"),
        (5.0, "s", "5.00 s"),
        (math.inf, "ms", "∞"),
        (math.nan, "ms", "-"),
    ],
)
def test_formats(value: float, unit: str, text: str) -> None:
    assert fmt(value, unit) == text


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError):
        fmt(1.0, "parsecs")


def test_verdicts() -> None:
    at_least = Target(">=", 1_000_000)
    assert Row("1", "a", "rate", Summary.of([1_000_000.0]), at_least).verdict == "pass"
    assert Row("1", "a", "rate", Summary.of([999_999.0]), at_least).verdict == "miss"
    assert Row("1", "a", "rate", Summary.of([5.0])).verdict == ""
    assert Row("7", "b", "s", note="not measured: backtest command missing").verdict == (
        "not measured"
    )
    at_most = Target("<=", 100)
    assert Row("3", "p99", "ms", Summary.of([math.inf]), at_most).verdict == "miss"
    assert not at_most.met(math.nan)
    with pytest.raises(ValueError):
        Target("<", 1)


def test_target_text() -> None:
    assert Target("<=", 20).describe("ms") == "≤ 20 ms"
    assert Target("<=", 150).describe("ms") == "≤ 150 ms"
    assert Target(">=", 0.5).describe("ratio") == "≥ 50.0 %"
    assert Target("<=", 2048).describe("bytes") == "≤ 2,048 B"


def test_table_is_aligned_markdown_with_one_line_per_row() -> None:
    rows = [
        Row("1", "pipeline points/s", "rate", Summary.of([20_000.0, 25_000.0, 30_000.0])),
        Row("3", "p99 | latency", "ms", Summary.of([80.0]), Target("<=", 100), note="2 lost"),
        Row("7", "backtest", "s", note="not measured: backtest command missing"),
    ]
    lines = format_table(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    assert len({len(line) for line in lines}) == 1  # every line padded to the same width
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == ["#", "measurement", "median", "min – max", "target", "result"]
    assert "25,000/s" in lines[2] and "20,000/s – 30,000/s (3 runs)" in lines[2]
    assert "p99 \\| latency" in lines[3]  # a pipe in a cell does not split the row
    assert "80.0 ms (2 lost)" in lines[3] and "1 run" in lines[3] and "pass" in lines[3]
    assert lines[4].rstrip(" |").endswith("not measured")
