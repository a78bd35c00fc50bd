"""describe: the root-cause sentence of an anomaly, its ranking, partners and numbers."""

from __future__ import annotations

import math

import pytest

from incidents.incident import Signal, signals_for
from incidents.rootcause import describe


def _ranked(scores: dict[str, float]) -> list[Signal]:
    """Signals with value = center + score (spread 1, center 10), ranked as scoring ranks them."""
    names = list(scores)
    return signals_for(
        names,
        [10.0 + scores[n] for n in names],
        [scores[n] for n in names],
        [(10.0, 1.0)] * len(names),
    )


def _features(text: str) -> list[str]:
    return [clause.split(" ")[0] for clause in text.split("; ")]


def test_clauses_follow_the_ranking_largest_deviation_first() -> None:
    text = describe(_ranked({"cpu": 4.0, "mem": -9.0, "disk": 6.5}))
    assert _features(text) == ["mem", "disk", "cpu"]
    assert text == (
        "mem 9.0σ below baseline (1 vs 10±1); "
        "disk 6.5σ above baseline (16.5 vs 10±1); "
        "cpu 4.0σ above baseline (14 vs 10±1)"
    )


def test_at_most_three_signals_are_named_by_default() -> None:
    text = describe(_ranked({f"f{i}": float(i + 4) for i in range(5)}))
    assert _features(text) == ["f4", "f3", "f2"]
    assert text.count("σ") == 3


@pytest.mark.parametrize(("limit", "named"), [(1, ["f4"]), (5, ["f4", "f3", "f2", "f1", "f0"])])
def test_the_limit_is_configurable(limit: int, named: list[str]) -> None:
    signals = _ranked({f"f{i}": float(i + 4) for i in range(5)})
    assert _features(describe(signals, limit=limit)) == named


def test_signals_without_deviation_are_left_out() -> None:
    signals = _ranked({"cpu": 5.0, "flat": 0.0}) + [Signal("gap", None, None, 10.0, 1.0)]
    assert describe(signals) == "cpu 5.0σ above baseline (15 vs 10±1)"


@pytest.mark.parametrize(
    "signals",
    [
        [],
        [Signal("cpu", None, None, None, None)],
        [Signal("cpu", 10.0, 0.0, 10.0, 1.0), Signal("gap", None, None, 5.0, 1.0)],
    ],
    ids=["no signals", "only a gap", "no deviation"],
)
def test_nothing_deviates_gives_an_empty_text(signals: list[Signal]) -> None:
    assert describe(signals) == ""
    assert describe(signals, {"cpu": [("mem", 0.99)]}) == ""


# --- partners -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "named"),
    [(0.6, True), (-0.6, True), (0.95, True), (-0.99, True), (0.59, False), (-0.599, False)],
)
def test_partners_are_named_when_the_correlation_is_at_least_0_6_in_magnitude(
    r: float, named: bool
) -> None:
    text = describe(_ranked({"latency": 7.0}), {"latency": [("errors", r)]})
    suffix = f", moving with errors (r={r:.2f})"
    assert text.endswith(suffix) is named
    assert text.startswith("latency 7.0σ above baseline (17 vs 10±1)")


def test_partners_attach_to_their_own_signal_and_at_most_three_are_listed() -> None:
    partners = {
        "latency": [("errors", 0.91), ("queue", -0.7), ("noise", 0.1), ("gc", 0.8), ("cpu", 0.65)],
        "errors": [("latency", 0.91)],
    }
    text = describe(_ranked({"latency": 9.6, "errors": 1.2, "disk": 3.0}), partners)
    clauses = text.split("; ")
    assert clauses[0] == (
        "latency 9.6σ above baseline (19.6 vs 10±1), moving with errors (r=0.91), "
        "queue (r=-0.70), gc (r=0.80)"
    )
    assert clauses[1] == "disk 3.0σ above baseline (13 vs 10±1)"
    assert clauses[2] == ("errors 1.2σ above baseline (11.2 vs 10±1), moving with latency (r=0.91)")


def test_partners_of_signals_that_are_not_described_are_not_mentioned() -> None:
    signals = _ranked({"cpu": 5.0, "flat": 0.0})
    assert describe(signals, {"flat": [("cpu", 0.99)]}) == "cpu 5.0σ above baseline (15 vs 10±1)"


# --- numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "text"),
    [
        (
            Signal("latency_ms", 148.0, 9.6, 100.0, 5.0),
            "latency_ms 9.6σ above baseline (148 vs 100±5)",
        ),
        (
            Signal("error_rate", 0.04, 1.2, 0.03, 0.008),
            "error_rate 1.2σ above baseline (0.04 vs 0.03±0.008)",
        ),
        (Signal("mem", 20.0, -6.0, 50.0, 5.0), "mem 6.0σ below baseline (20 vs 50±5)"),
        (
            Signal("bytes", 1234567.891, 4.0, 1e6, 5e4),
            "bytes 4.0σ above baseline (1.235e+06 vs 1000000±50000)",
        ),
        (
            Signal("ratio", 0.000123456, 3.3, 0.0001, 7e-6),
            "ratio 3.3σ above baseline (0.0001235 vs 0.0001±7e-06)",
        ),
        # a spread of a millionth of the center is a flat baseline: no meaningless σ count
        (Signal("flat", 101.0, 1e6, 100.0, 1e-6), "flat above its flat baseline (101 vs 100)"),
        (Signal("flat", 101.0, 1e5, 100.0, 1e-3), "flat 1e+05σ above baseline (101 vs 100±0.001)"),
        (
            Signal("flat", 101.0, 9999.94, 100.0, 0.1),
            "flat 9999.9σ above baseline (101 vs 100±0.1)",
        ),
        (Signal("cpu", 97.5, 5.0, None, None), "cpu 5.0σ above baseline (97.5)"),
    ],
    ids=[
        "integers",
        "small decimals",
        "below",
        "large",
        "tiny",
        "flat baseline",
        "huge sigma",
        "sigma below 1e4",
        "no baseline",
    ],
)
def test_numbers_are_short_and_readable(signal: Signal, text: str) -> None:
    assert describe([signal]) == text


def test_no_number_in_the_text_is_nan_or_inf() -> None:
    signals = signals_for(
        ["cpu", "mem", "disk"],
        [math.nan, 20.0, math.inf],
        [math.nan, -6.0, math.nan],
        [(100.0, 5.0), (50.0, 5.0), (math.nan, math.nan)],
    )
    text = describe(signals)
    assert text == "mem 6.0σ below baseline (20 vs 50±5)"
    assert "nan" not in text.lower() and "inf" not in text.lower()
