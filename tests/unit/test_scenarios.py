"""The behaviour scenarios: what each generator claims about its series, and the judge's rules
on hand-made alert lists."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from app.scenarios import (
    DAY,
    SCENARIOS,
    STEP,
    Scenario,
    format_table,
    judge,
    main,
    run_scenarios,
    scenario,
)

SEEDS = range(5)


# ------------------------------------------------------------------------------ generators


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_has_a_learning_day_and_500_points_after_its_anomaly(name: str) -> None:
    for seed in SEEDS:
        s = scenario(name, seed)
        assert len(s.ts) == len(s.values)
        assert np.isfinite(s.values).all()
        assert s.ts == sorted(s.ts) and (s.ts[-1] - s.ts[0]) / 86400 == pytest.approx(4, abs=0.01)
        for first, last in s.windows:
            assert s.ts[first] - s.ts[0] >= 86400  # after the learning day
            assert len(s.ts) - (last + 60) > 500
        assert scenario(name, seed) == s  # the seed alone decides
    assert scenario(name, 0).values != scenario(name, 1).values


def test_steps_are_a_minute_except_the_gap_of_four_hours() -> None:
    for name in SCENARIOS:
        s = scenario(name, 3)
        steps = np.diff(s.ts)
        if name == "gap":
            assert sorted(set(steps.tolist())) == [STEP, STEP + 4 * 3600]
            assert (steps > STEP).sum() == 1 and len(s.ts) == 4 * DAY - 240
        else:
            assert set(steps.tolist()) == {STEP} and len(s.ts) == 4 * DAY


def _robust_sigma(x: np.ndarray) -> float:
    return float(np.median(np.abs(x - np.median(x))) * 1.4826)


def test_spike_is_ten_sigma_at_its_one_point_window() -> None:
    for seed in SEEDS:
        s = scenario("spike", seed)
        ((at, last),) = s.windows
        values = np.asarray(s.values)
        assert at == last
        before = values[:at]
        deviation = abs(values[at] - np.median(before)) / _robust_sigma(before)
        assert 8.5 < deviation < 11.5
        assert np.abs(values[at + 1 :] - np.median(before)).max() < 6 * _robust_sigma(before)


def test_level_shift_and_variance_rise_label_the_first_10_to_30_points_of_a_lasting_change() -> (
    None
):
    for seed in SEEDS:
        shift = scenario("level_shift", seed)
        ((at, last),) = shift.windows
        assert shift.persistent and 10 <= last - at + 1 <= 30
        values = np.asarray(shift.values)
        sigma = _robust_sigma(values[:at])
        moved = abs(np.median(values[at:]) - np.median(values[:at])) / sigma
        assert 5.5 < moved < 12.5
        assert abs(np.median(values[at - 60 : at]) - np.median(values[:at])) < sigma  # not before

        rise = scenario("variance_rise", seed)
        ((at, last),) = rise.windows
        assert rise.persistent and 10 <= last - at + 1 <= 30
        values = np.asarray(rise.values)
        ratio = _robust_sigma(values[at:]) / _robust_sigma(values[:at])
        assert 2.7 < ratio < 5.5
        assert abs(np.median(values[at:]) - np.median(values[:at])) < _robust_sigma(values[:at])


def test_daily_bump_sits_at_a_trough_within_the_daily_range() -> None:
    for seed in SEEDS:
        s = scenario("daily_bump", seed)
        ((at, last),) = s.windows
        assert not s.persistent and 10 <= last - at + 1 <= 20
        values = np.asarray(s.values)
        day_before = values[at - DAY : last + 1 - DAY]  # the same minutes a day earlier
        lift = np.median(values[at : last + 1]) - np.median(day_before)
        amplitude = s.params["amplitude"]
        assert 0.2 * amplitude < lift < 0.6 * amplitude
        centre = (at + last) // 2 - DAY  # a day earlier: the trough is the hourly mean's lowest
        around = values[centre - 360 : centre + 361]
        hourly = np.convolve(around, np.ones(61) / 61, mode="valid")  # index i: minute i + 30
        assert abs(int(np.argmin(hourly)) + 30 - 360) <= 90
        assert values[at : last + 1].max() < values.max()  # inside the series' normal range


def test_sparse_burst_is_integer_counts_with_a_burst_of_5_to_10() -> None:
    for seed in SEEDS:
        s = scenario("sparse_burst", seed)
        ((at, last),) = s.windows
        values = np.asarray(s.values)
        assert (values == np.round(values)).all() and values.min() >= 0
        assert 5 <= last - at + 1 <= 15
        assert ((values[at : last + 1] >= 5) & (values[at : last + 1] <= 10)).all()
        rest = np.concatenate([values[:at], values[last + 1 :]])
        assert 0.05 < rest.mean() < 0.35


def test_drift_and_gap_have_no_window() -> None:
    for seed in SEEDS:
        drift = scenario("drift", seed)
        assert drift.windows == [] and not drift.persistent
        values = np.asarray(drift.values)
        sigma = drift.params["sigma"]
        moved = abs(values[-DAY:].mean() - values[:DAY].mean()) / sigma
        assert 5 < moved < 13  # three of the four days' 8 to 16 sigma
        assert scenario("gap", seed).windows == []


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'flat'; one of spike, level_shift"):
        scenario("flat", 0)


# ---------------------------------------------------------------------------------- judge

N = 3000
SPIKE = Scenario("spike", 0, [60.0 * i for i in range(N)], [0.0] * N, [(2000, 2000)])
SHIFT = Scenario(
    "level_shift", 0, [60.0 * i for i in range(N)], [0.0] * N, [(2000, 2019)], persistent=True
)


def _alerts(*at: int) -> list[bool]:
    alerts = [False] * N
    for i in at:
        alerts[i] = True
    return alerts


def test_a_detection_with_a_few_false_alerts_passes() -> None:
    v = judge(SPIKE, _alerts(100, 2000, 2003, 1500, 1600, 1700, 1800, 2200))
    # 100 is in the learning day; 2003 is within 5 points of the spike; 5 false alerts after
    assert v.passed and v.delays == [0] and v.false_alerts == 5 and v.alerts == 8
    assert v.reason == "pass: 1/1 windows detected (delays 0), 5 false alert points"
    assert not judge(SPIKE, _alerts(2000, 1500, 1600, 1700, 1800, 2200, 2300)).passed  # 6


def test_a_missed_spike_fails() -> None:
    v = judge(SPIKE, _alerts(1999))
    assert not v.passed and v.detected == 0 and v.delays == [None]
    assert v.reason == "missed the window at 2000 (no alert)"


def test_a_detection_later_than_5_points_fails() -> None:
    assert judge(SPIKE, _alerts(2005)).delays == [5]
    v = judge(SPIKE, _alerts(2006))
    assert not v.passed and v.false_alerts == 1  # 2006 is outside the spike's 5 points
    assert v.reason.startswith(
        "missed the window at 2000 (first alert 6 points after its start, over 5)"
    )


def test_one_false_alert_in_the_last_500_points_fails() -> None:
    assert judge(SPIKE, _alerts(2000, N - 501)).passed
    v = judge(SPIKE, _alerts(2000, N - 500))
    assert not v.passed and v.false_alerts == 1 and v.false_in_tail == 1
    assert v.reason == f"1 false alert point in the last 500 (first at {N - 500})"


def test_alerts_in_the_hour_after_a_persistent_change_are_not_false() -> None:
    in_grace = list(range(2020, 2080))  # the 60 points after the window 2000..2019
    v = judge(SHIFT, _alerts(2002, *range(2005, 2019), *in_grace))
    assert v.passed and v.false_alerts == 0 and v.graced == 60
    v = judge(SHIFT, _alerts(2002, *in_grace, 2080))
    assert v.false_alerts == 1 and v.graced == 60  # the 61st point after is false
    spike_after = judge(SPIKE, _alerts(2000, *range(2006, 2012)))
    assert spike_after.false_alerts == 6 and not spike_after.passed  # no grace for a spike


def test_judge_wants_one_alert_per_point() -> None:
    with pytest.raises(ValueError, match="alerts has 2 values for 3000 points"):
        judge(SPIKE, [False, True])


# ------------------------------------------------------------------------------ the table


def test_the_table_has_a_row_per_scenario_and_the_first_failing_seed() -> None:
    def alert_on_windows(s: Scenario) -> list[bool]:
        alerts = [False] * len(s.ts)
        for first, _ in s.windows:
            alerts[first] = s.seed == 0  # seed 1 misses
        return alerts

    verdicts = run_scenarios(alert_on_windows, [0, 1], ["spike", "gap"])
    table = format_table(verdicts).splitlines()
    assert [line.split()[:3] for line in table[1:3]] == [
        ["spike", "1/2", "1/2"],
        ["gap", "2/2", "0/0"],
    ]
    assert "seed 1: missed the window" in table[1] and table[-1] == "passed 3/4"


def test_cli_scores_through_the_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_id": "m", "detector": "zscore"}))
    code = main(["--config", str(config), "--seeds", "1", "--only", "spike", "drift"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == '{"detector": "zscore", "model_id": "m"}'
    assert [line.split()[0] for line in out[2:4]] == ["spike", "drift"]
    assert code == (0 if out[-1] == "passed 2/2" else 1)


def test_cli_reads_its_config_from_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    """``--config <(echo '{...}')``, as docs/QUALITY.md runs it: the file is a pipe, read once."""
    read, write = os.pipe()
    os.write(write, b'{"model_id": "m", "detector": "zscore"}')
    os.close(write)
    try:
        code = main(["--config", f"/dev/fd/{read}", "--seeds", "1", "--only", "spike"])
    finally:
        os.close(read)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == '{"detector": "zscore", "model_id": "m"}'
    assert out[2].split()[0] == "spike" and code in (0, 1)
