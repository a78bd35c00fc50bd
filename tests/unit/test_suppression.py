"""Suppressor and SuppressionSpec: which flagged points alert, and the settings that decide it."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from detectors import DetectorError
from detectors.suppression import REASONS, Decision, SuppressionSpec, Suppressor
from incidents.config import ModelConfig
from incidents.scoring import score_batch

THRESHOLD = 3.0
# Scores of a flagged point: just above the threshold, and at the bypass boundary (2 x 3.0).
WEAK = 4.0
BYPASS = 6.0
# A deviation and a baseline that pass the default minimum deviation (1 % of 100 = 1.0).
BIG = {"deviation": 40.0, "center": 100.0}


def _decide(
    suppressor: Suppressor,
    flagged: bool,
    score: float = WEAK,
    *,
    deviation: float = 40.0,
    center: float = 100.0,
    warm: bool = True,
) -> Decision:
    return suppressor.decide(flagged, score, THRESHOLD, deviation, center, warm)


def _run(spec: SuppressionSpec, flags: list[bool], score: float = WEAK) -> list[Decision]:
    suppressor = Suppressor(spec)
    return [_decide(suppressor, flag, score) for flag in flags]


def _fired(decisions: list[Decision]) -> list[bool]:
    return [d.fire for d in decisions]


# --- persistence: k of the last n points ----------------------------------------------------------


def test_defaults_are_two_of_three_with_a_double_threshold_bypass() -> None:
    spec = SuppressionSpec()
    assert (spec.persistence_k, spec.persistence_n, spec.bypass_factor) == (2, 3, 2.0)
    assert (spec.min_abs_deviation, spec.min_rel_deviation) == (0.0, 0.01)


def test_a_single_flagged_point_waits_for_a_second_one() -> None:
    decisions = _run(SuppressionSpec(), [True, True])
    assert decisions == [Decision(False, "persistence"), Decision(True, None)]


def test_an_unflagged_point_never_fires_and_gives_no_reason() -> None:
    suppressor = Suppressor(SuppressionSpec(persistence_k=1, persistence_n=1))
    # even with a huge score and outside warm-up: the detector did not flag it
    assert _decide(suppressor, False, 1e9) == Decision(False, None)
    assert _decide(suppressor, False, 1e9, warm=False) == Decision(False, None)


@pytest.mark.parametrize(
    ("flags", "fired"),
    [
        # 2 of 3: a flag two points back still counts, three points back no longer does
        ([True, False, True], [False, False, True]),
        ([True, False, False, True], [False, False, False, False]),
        # the window slides: every flagged point with another flag among the 2 before it fires
        (
            [True, True, False, True, False, False, True],
            [False, True, False, True, False, False, False],
        ),
    ],
    ids=["gap of one", "gap of two", "sliding"],
)
def test_two_of_three_window_slides(flags: list[bool], fired: list[bool]) -> None:
    assert _fired(_run(SuppressionSpec(), flags)) == fired


def test_three_of_five_counts_flags_in_the_last_five_points_only() -> None:
    spec = SuppressionSpec(persistence_k=3, persistence_n=5)
    flags = [True, False, True, False, True, False, False, True, True]
    # point 5: flags at 1, 3, 5 in the window 1..5 -> 3; point 8: window 4..8 has 5 and 8 -> 2;
    # point 9: window 5..9 has 5, 8 and 9 -> 3.
    assert _fired(_run(spec, flags)) == [False] * 4 + [True] + [False] * 3 + [True]


def test_k_equal_n_needs_every_point_of_the_window() -> None:
    spec = SuppressionSpec(persistence_k=3, persistence_n=3)
    assert _fired(_run(spec, [True, True, True, False, True, True, True])) == [
        False,
        False,
        True,
        False,
        False,
        False,
        True,
    ]


def test_one_of_one_fires_every_flagged_point() -> None:
    spec = SuppressionSpec(persistence_k=1, persistence_n=1)
    assert _fired(_run(spec, [True, False, True])) == [True, False, True]


def test_a_window_of_64_points_is_remembered_in_full() -> None:
    spec = SuppressionSpec(persistence_k=2, persistence_n=64)
    flags = [True] + [False] * 62 + [True]  # the first flag is 63 points back: still inside
    assert _fired(_run(spec, flags))[-1] is True
    flags = [True] + [False] * 63 + [True]  # 64 points back: out of the window
    assert _fired(_run(spec, flags))[-1] is False


def test_points_suppressed_for_another_reason_still_count_for_persistence() -> None:
    suppressor = Suppressor(SuppressionSpec())
    assert _decide(suppressor, True, deviation=0.1) == Decision(False, "min_deviation")
    assert _decide(suppressor, True) == Decision(True, None)


# --- bypass ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "fires"),
    [(BYPASS, True), (math.nextafter(BYPASS, 0.0), False), (1e300, True)],
    ids=["exactly bypass x threshold", "just below", "huge"],
)
def test_a_score_of_bypass_factor_times_the_threshold_fires_alone(
    score: float, fires: bool
) -> None:
    decision = _decide(Suppressor(SuppressionSpec()), True, score)
    assert decision == (Decision(True, None) if fires else Decision(False, "persistence"))


def test_the_bypass_factor_is_configurable() -> None:
    spec = SuppressionSpec(bypass_factor=3.0)
    assert _decide(Suppressor(spec), True, 8.9).suppressed_by == "persistence"
    assert _decide(Suppressor(spec), True, 9.0).fire


def test_a_non_finite_score_never_bypasses() -> None:
    decision = _decide(Suppressor(SuppressionSpec()), True, math.inf)
    assert decision == Decision(False, "persistence")


# --- minimum deviation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deviation", "center", "suppressed"),
    [
        (1.0, 100.0, False),  # exactly 1 % of the baseline
        (0.999, 100.0, True),
        (1.0, -100.0, False),  # the baseline's magnitude counts, not its sign
        (0.999, -100.0, True),
        (0.0, 0.0, False),  # 1 % of 0 is 0: nothing to suppress
    ],
)
def test_min_rel_deviation_is_relative_to_the_baseline_magnitude(
    deviation: float, center: float, suppressed: bool
) -> None:
    decision = _decide(
        Suppressor(SuppressionSpec()), True, BYPASS, deviation=deviation, center=center
    )
    assert decision == (Decision(False, "min_deviation") if suppressed else Decision(True, None))


@pytest.mark.parametrize(("deviation", "fires"), [(5.0, True), (4.999, False)])
def test_min_abs_deviation_is_an_absolute_floor(deviation: float, fires: bool) -> None:
    spec = SuppressionSpec(min_abs_deviation=5.0, min_rel_deviation=0.0)
    decision = _decide(Suppressor(spec), True, BYPASS, deviation=deviation, center=0.0)
    assert decision.fire is fires
    assert decision.suppressed_by == (None if fires else "min_deviation")


def test_the_larger_of_the_absolute_and_relative_floors_applies() -> None:
    spec = SuppressionSpec(min_abs_deviation=5.0, min_rel_deviation=0.1)
    # relative floor 0.1 * 100 = 10 beats the absolute 5
    assert _decide(Suppressor(spec), True, BYPASS, deviation=9.0, center=100.0).fire is False
    assert _decide(Suppressor(spec), True, BYPASS, deviation=10.0, center=100.0).fire is True
    # absolute floor 5 beats the relative 0.1 * 10 = 1
    assert _decide(Suppressor(spec), True, BYPASS, deviation=4.0, center=10.0).fire is False


def test_minimum_deviation_applies_even_to_a_bypassing_score() -> None:
    # a 5 sigma move of a flat series is still a tiny move
    decision = _decide(Suppressor(SuppressionSpec()), True, 1000.0, deviation=0.5, center=100.0)
    assert decision == Decision(False, "min_deviation")


@pytest.mark.parametrize(
    ("deviation", "center"),
    [(math.nan, 100.0), (0.001, math.nan), (math.nan, math.nan), (math.inf, 100.0)],
    ids=["nan deviation", "nan center", "both nan", "inf deviation"],
)
def test_a_non_finite_deviation_or_center_skips_the_minimum_deviation_check(
    deviation: float, center: float
) -> None:
    spec = SuppressionSpec(min_abs_deviation=1e6, min_rel_deviation=1.0)
    decision = _decide(Suppressor(spec), True, BYPASS, deviation=deviation, center=center)
    assert decision == Decision(True, None)


# --- warm-up and the order of the checks ----------------------------------------------------------


def test_a_flagged_point_during_warm_up_is_suppressed_with_reason_warmup() -> None:
    decision = _decide(Suppressor(SuppressionSpec()), True, 1e6, warm=False)
    assert decision == Decision(False, "warmup")


def test_warm_up_is_reported_before_minimum_deviation_before_persistence() -> None:
    assert _decide(
        Suppressor(SuppressionSpec()), True, deviation=0.0, warm=False
    ).suppressed_by == ("warmup")
    assert _decide(Suppressor(SuppressionSpec()), True, deviation=0.0).suppressed_by == (
        "min_deviation"
    )
    assert _decide(Suppressor(SuppressionSpec()), True).suppressed_by == "persistence"
    assert REASONS == ("warmup", "persistence", "min_deviation")


# --- state ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", range(1, 7))
def test_state_through_json_continues_the_window(cut: int) -> None:
    spec = SuppressionSpec(persistence_k=2, persistence_n=4)
    flags = [True, False, False, True, False, False, False, True]
    whole = _run(spec, flags)
    first = Suppressor(spec)
    pieces = [_decide(first, flag) for flag in flags[:cut]]
    state = json.loads(json.dumps(first.to_state()))
    second = Suppressor(spec, state)
    pieces += [_decide(second, flag) for flag in flags[cut:]]
    assert pieces == whole
    assert any(d.fire for d in whole) and any(d.suppressed_by for d in whole)


def test_a_fresh_suppressor_has_an_empty_window() -> None:
    assert Suppressor(SuppressionSpec()).to_state() == {}  # no flags: none stored
    assert Suppressor(SuppressionSpec(), {}).to_state() == {}
    assert Suppressor(SuppressionSpec(), {"flags": 0}).to_state() == {}  # as rows before had it
    assert _decide(Suppressor(SuppressionSpec(), {}), True) == Decision(False, "persistence")


def test_a_stored_window_wider_than_n_is_cut_to_n() -> None:
    # n shrank from 8 to 2 under the same model version: flags older than 2 points are forgotten
    suppressor = Suppressor(
        SuppressionSpec(persistence_k=2, persistence_n=2), {"flags": 0b11111100}
    )
    assert _decide(suppressor, True) == Decision(False, "persistence")


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"persistence_k": 0}, "suppression.persistence.k must be an integer >= 1, got 0"),
        ({"persistence_k": 2.0}, "suppression.persistence.k must be an integer >= 1, got 2.0"),
        ({"persistence_k": True}, "suppression.persistence.k must be an integer >= 1, got True"),
        (
            {"persistence_k": 1, "persistence_n": 0},
            "suppression.persistence.n must be an integer >= 1, got 0",
        ),
        (
            {"persistence_k": 1, "persistence_n": 65},
            "suppression.persistence.n must be at most 64, got 65",
        ),
        (
            {"persistence_k": 4, "persistence_n": 3},
            "suppression.persistence.k must be at most n, got k=4 and n=3",
        ),
        ({"bypass_factor": 0.0}, "suppression.bypass_factor must be at least 1, got 0.0"),
        ({"bypass_factor": -2.0}, "suppression.bypass_factor must be at least 1, got -2.0"),
        ({"bypass_factor": math.inf}, "suppression.bypass_factor must be finite, got inf"),
        ({"bypass_factor": "2"}, "suppression.bypass_factor must be a number, got '2'"),
        ({"min_abs_deviation": -0.1}, "suppression.min_abs_deviation must be >= 0"),
        ({"min_abs_deviation": math.nan}, "suppression.min_abs_deviation must be finite, got nan"),
        ({"min_rel_deviation": -0.01}, "suppression.min_rel_deviation must be >= 0"),
        ({"min_rel_deviation": math.inf}, "suppression.min_rel_deviation must be finite, got inf"),
    ],
)
def test_invalid_settings_raise_naming_the_field(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DetectorError) as error:
        SuppressionSpec(**kwargs)
    assert str(error.value) == message


def test_boundary_settings_are_accepted() -> None:
    spec = SuppressionSpec(
        persistence_k=64, persistence_n=64, min_abs_deviation=0.0, min_rel_deviation=0.0
    )
    assert spec.persistence_n == 64


def test_from_dict_fills_missing_keys_with_defaults() -> None:
    assert SuppressionSpec.from_dict(None) == SuppressionSpec()
    assert SuppressionSpec.from_dict({}) == SuppressionSpec()
    assert SuppressionSpec.from_dict({"persistence": {"n": 5}}) == SuppressionSpec(persistence_n=5)
    assert SuppressionSpec.from_dict({"min_abs_deviation": 2}) == SuppressionSpec(
        min_abs_deviation=2
    )


@pytest.mark.parametrize(
    "spec",
    [
        SuppressionSpec(),
        SuppressionSpec(persistence_k=3, persistence_n=7, bypass_factor=4.5),
        SuppressionSpec(
            persistence_k=1, persistence_n=1, min_abs_deviation=2.5, min_rel_deviation=0
        ),
    ],
)
def test_to_dict_and_from_dict_round_trip_through_json(spec: SuppressionSpec) -> None:
    data = json.loads(json.dumps(spec.to_dict()))
    assert set(data) == {"persistence", "bypass_factor", "min_abs_deviation", "min_rel_deviation"}
    assert data["persistence"] == {"k": spec.persistence_k, "n": spec.persistence_n}
    assert SuppressionSpec.from_dict(data) == spec


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"persistance": {"k": 1, "n": 1}},
            "unknown suppression setting 'persistance'; choose from: bypass_factor, "
            "interval, min_abs_deviation, min_rel_deviation, persistence",
        ),
        ({"warmup": 10}, "unknown suppression setting 'warmup'"),
        ({"persistence": {"k": 1, "n": 2, "m": 3}}, "suppression.persistence must be an object"),
        ({"persistence": [2, 3]}, "suppression.persistence must be an object"),
        ({"persistence": {"k": 3, "n": 2}}, "suppression.persistence.k must be at most n"),
        ({"persistence": {"k": 4}}, "suppression.persistence.k must be at most n, got k=4 and n=3"),
        ({"bypass_factor": None}, "suppression.bypass_factor must be a number, got None"),
    ],
)
def test_from_dict_rejects_unknown_keys_and_invalid_values(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(DetectorError) as error:
        SuppressionSpec.from_dict(data)
    assert str(error.value).startswith(message)


def test_the_model_configuration_carries_its_suppression_settings() -> None:
    payload = {
        "model_id": "m",
        "detector": "zscore",
        "suppression": {"persistence": {"k": 1, "n": 1}, "min_abs_deviation": 3},
    }
    config = ModelConfig.from_dict(payload)
    assert config.suppression == SuppressionSpec(
        persistence_k=1, persistence_n=1, min_abs_deviation=3
    )
    assert ModelConfig.from_dict({"model_id": "m", "detector": "zscore"}).suppression == (
        SuppressionSpec()
    )
    with pytest.raises(DetectorError, match="unknown suppression setting 'k'"):
        ModelConfig.from_dict({**payload, "suppression": {"k": 1}})


# --- in event time: the window and the bypass for points ``interval`` seconds apart ------------


def _timed(gap: float, flags: list[bool], score: float = 2.5) -> list[bool]:
    suppressor = Suppressor(SuppressionSpec(interval=60.0))
    return [
        suppressor.decide(flag, score, 2.0, 40.0, 100.0, True, ts=gap * k).fire
        for k, flag in enumerate(flags)
    ]


def test_in_event_time_a_minute_key_keeps_two_of_three() -> None:
    # points a minute apart: the window stays 3 points, the bypass twice the threshold
    assert _timed(60.0, [True, False, False, True]) == [False] * 4
    assert _timed(60.0, [True, False, True]) == [False, False, True]
    assert _timed(60.0, [False, True], score=3.9) == [False, False]
    assert _timed(60.0, [False, True], score=4.0) == [False, True]


def test_in_event_time_a_five_minute_key_gets_a_longer_window_and_a_lower_bypass() -> None:
    # as many noise pairs a day: 1 + 2 * 5 = 11 points; a point 5 times rarer than a minute
    # key's bypass: log10(5) = 0.7 lower
    flags = [True] + [False] * 9 + [True]
    assert _timed(300.0, flags) == [False] * 10 + [True]
    assert _timed(300.0, [True] + [False] * 10 + [True]) == [False] * 12
    assert _timed(300.0, [False, True], score=3.35) == [False, True]
    assert _timed(300.0, [False, True], score=3.25) == [False, False]


def test_in_event_time_a_gap_in_the_feed_counts_at_most_half_an_hour() -> None:
    suppressor = Suppressor(SuppressionSpec(interval=60.0))
    for k in range(100):
        suppressor.decide(False, 0.0, 2.0, 0.0, 100.0, True, ts=60.0 * k)
    suppressor.decide(False, 0.0, 2.0, 0.0, 100.0, True, ts=60.0 * 99 + 4 * 3600.0)
    # the mean gap is (99 * 60 + 1800) / 100 = 77.4 s, not (99 * 60 + 14400) / 100 = 203 s
    n, lower = suppressor.window()
    assert n == round(1 + 2 * 77.4 / 60) == 4
    assert lower == pytest.approx(math.log10(77.4 / 60))


@pytest.mark.parametrize("jitter", [0.0, 7.0])
def test_in_event_time_the_block_form_decides_as_one_by_one(jitter: float) -> None:
    # a steady feed (its second block counted at once) and a jittered one (row by row)
    spec = SuppressionSpec(interval=60.0)
    ts = [300.0 * k + jitter * (k % 3) for k in range(40)]
    flags = [k in (3, 9, 20, 35) for k in range(40)]
    one = Suppressor(spec)
    alone = [
        one.decide(f, 2.5, 2.0, 40.0, 100.0, True, ts=t).fire
        for f, t in zip(flags, ts, strict=True)
    ]
    block = Suppressor(spec)
    counts, lowers = block.flag_counts(np.array(flags[:25]), np.array(ts[:25]))
    more, lowers2 = block.flag_counts(np.array(flags[25:]), np.array(ts[25:]))
    assert lowers is not None and lowers2 is not None
    judged = [
        block.judge(int(c), 2.5, 2.0, 40.0, 100.0, True, float(w)).fire if f else False
        for f, c, w in zip(flags, [*counts, *more], [*lowers, *lowers2], strict=True)
    ]
    assert judged == alone == [k == 9 for k in range(40)]
    assert block.to_state() == one.to_state()


def test_in_event_time_the_state_round_trips_through_json() -> None:
    spec = SuppressionSpec(interval=60.0)
    first = Suppressor(spec)
    for k in range(70):
        first.decide(True, 2.5, 2.0, 40.0, 100.0, True, ts=300.0 * k)
    again = Suppressor(spec, json.loads(json.dumps(first.to_state())))
    assert again.window() == first.window()
    assert again.decide(True, 2.5, 2.0, 40.0, 100.0, True, ts=300.0 * 70).fire


@pytest.mark.parametrize(("gap", "opens"), [(60.0, []), (300.0, [18])])
def test_in_event_time_two_flags_eight_points_apart_open_an_incident_on_a_5_minute_key(
    gap: float, opens: list[int]
) -> None:
    # the same points, a minute apart and 5 minutes apart: two 3.5-sigma points 8 points apart
    # are noise for a minute key (2 of 3) and an incident for a 5-minute key (2 of 11), one
    # block or point by point alike
    config = ModelConfig.from_dict(
        {
            "model_id": "m",
            "detector": "zscore",
            "params": {"mean": [100.0], "std": [5.0], "threshold": 3.0},
            "suppression": {"interval": 60},
        }
    )
    values = [[117.5 if k in (10, 18) else 100.0] for k in range(30)]
    ts = [gap * k for k in range(30)]
    block = score_batch(config, "host-1", None, ts, values)
    state = None
    single = []
    for t, v in zip(ts, values, strict=True):
        out = score_batch(config, "host-1", state, [t], [v])
        state = out.state
        single += out.points
    for points in (block.points, single):
        assert [k for k, p in enumerate(points) if p.incident_id] == opens


@pytest.mark.parametrize("seed", range(20))
def test_judge_many_decides_as_judge_on_each_point(seed: int) -> None:
    # random flagged points: cold and warm, shallow and deep deviations, missing values,
    # scores around the bypass, lowered bypasses (also NaN), windows of every count
    rng = np.random.default_rng(seed)
    n = 300
    spec = SuppressionSpec(
        persistence_k=int(rng.integers(1, 4)),
        persistence_n=4,
        bypass_factor=float(rng.choice([1.0, 2.0, 3.5])),
        min_abs_deviation=float(rng.choice([0.0, 2.0])),
        min_rel_deviation=float(rng.choice([0.0, 0.01, 0.2])),
    )
    suppressor = Suppressor(spec)
    nan = np.nan
    counts = rng.integers(0, 5, n)
    score = rng.choice([2.0, 3.0, 5.9, 6.0, 9.0, np.inf, nan], n)
    threshold = rng.choice([3.0, 2.5, nan], n, p=[0.6, 0.35, 0.05])
    deviation = rng.choice([0.0, 0.5, 1.0, 5.0, 50.0, nan], n)
    center = rng.choice([0.0, 10.0, -100.0, 1e4, nan], n)
    warm = rng.random(n) < 0.9
    lower = rng.choice([0.0, 0.5, 2.0, 10.0, nan], n)
    for lowers in (lower, None):
        fires, why = suppressor.judge_many(
            counts, score, threshold, deviation, center, warm, lowers
        )
        expected = [
            suppressor.judge(
                int(counts[j]),
                float(score[j]),
                float(threshold[j]),
                float(deviation[j]),
                float(center[j]),
                bool(warm[j]),
                float(lowers[j]) if lowers is not None else 0.0,
            )
            for j in range(n)
        ]
        assert fires.tolist() == [d.fire for d in expected]
        assert why == [d.suppressed_by for d in expected]
