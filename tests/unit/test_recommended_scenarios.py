"""The recommended model (a configuration without ``detector``) on the behaviour scenarios of
``app.scenarios``, through the engine's own scoring step; and the defaults on a level shift.

Figures over 20 seeds are in docs/QUALITY.md (``python -m app.scenarios --config FILE``).
"""

from __future__ import annotations

import pytest

from app.scenarios import engine_alerts, judge, scenario
from incidents.config import ModelConfig

RECOMMENDED = ModelConfig.from_dict({"model_id": "recommended"})
SEEDS = range(3)


@pytest.mark.parametrize("name", ["spike", "level_shift", "sparse_burst", "drift", "gap"])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_recommended_model_passes(name: str, seed: int) -> None:
    made = scenario(name, seed)
    verdict = judge(made, engine_alerts(RECOMMENDED)(made))
    assert verdict.passed, verdict.reason


@pytest.mark.parametrize("seed", range(6))
def test_the_peaks_of_a_daily_cycle_are_not_alerts(seed: int) -> None:
    made = scenario("daily_bump", seed)
    verdict = judge(made, engine_alerts(RECOMMENDED)(made))
    assert verdict.false_alerts <= 5 and verdict.false_in_tail == 0, verdict.reason


# Seed 1 of 0..5 is missed: the bump's deviation falls between the calibrated tail's 0.99
# quantile and its base (the upper edge of that quantile's bin), where every score is 2.00, not
# above the threshold (18 of 20 seeds pass, docs/QUALITY.md).
@pytest.mark.parametrize("seed", [0, 2, 3, 4, 5])
def test_a_bump_at_a_trough_of_a_daily_cycle_is_found_and_the_peaks_are_not(seed: int) -> None:
    made = scenario("daily_bump", seed)
    verdict = judge(made, engine_alerts(RECOMMENDED)(made))
    assert verdict.passed, verdict.reason


# Read as half-hour steps, a steep hour of the cycle jumped by 2 noise sigmas at a half hour's
# edge, and the noise flags there alerted in the last 500 points (seed 15); read as lines between
# the half hours' centers it does not (docs/QUALITY.md).
def test_the_half_hour_edges_of_a_steep_daily_cycle_are_not_alerts() -> None:
    made = scenario("daily_bump", 15)
    verdict = judge(made, engine_alerts(RECOMMENDED)(made))
    assert verdict.passed, verdict.reason


# A pair of noise flags on opposite sides (-2.3 then +2.0, -2.0 then +2.2) in the last 500
# points was an alert by 2-of-3 persistence until the second no longer flags (docs/QUALITY.md).
@pytest.mark.parametrize("seed", [13, 14])
def test_opposite_noise_flags_at_a_daily_cycle_are_not_an_alert(seed: int) -> None:
    made = scenario("daily_bump", seed)
    verdict = judge(made, engine_alerts(RECOMMENDED)(made))
    assert verdict.passed, verdict.reason


@pytest.mark.parametrize("seed", SEEDS)
def test_a_variance_that_rises_and_stays_does_not_alert_for_ever(seed: int) -> None:
    # Detected within 5 points in 18 of 20 seeds (docs/QUALITY.md: a weak spot); what is
    # asserted here is that the new spread is learned: no false alert after the hour's grace.
    made = scenario("variance_rise", seed)
    verdict = judge(made, engine_alerts(RECOMMENDED)(made))
    assert verdict.false_alerts <= 5 and verdict.false_in_tail == 0, verdict.reason


# The rise's first far point stood alone (5.4 to 5.8 sigma of the old noise, then nothing past
# the threshold for a few points): it scored 3.1 to 3.8, under the persistence bypass (twice the
# threshold), while the tail's mean excess started at 0.2 times its base; from 0.1 it alerts at
# once (docs/QUALITY.md).
@pytest.mark.parametrize("seed", [20, 24, 26, 48])
def test_a_variance_rise_whose_first_far_point_stands_alone_is_found_within_5_points(
    seed: int,
) -> None:
    made = scenario("variance_rise", seed)
    verdict = judge(made, engine_alerts(RECOMMENDED)(made))
    assert verdict.passed, verdict.reason


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_defaults_stop_alerting_after_a_level_shift(detector: str, seed: int) -> None:
    made = scenario("level_shift", seed)
    config = ModelConfig.from_dict({"model_id": "m", "detector": detector})
    verdict = judge(made, engine_alerts(config)(made))
    assert verdict.detected == 1
    # mad's 64-point window gives its spread heavy tails: one stray alert in the last 500
    # points happens (2 of 20 seeds); zscore and ewma pass outright
    assert verdict.false_in_tail <= (1 if detector == "mad" else 0), verdict.reason
    assert verdict.false_alerts <= 5, verdict.reason
