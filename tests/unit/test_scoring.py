"""score_batch: cooldown, dry run, state round trip, model versions, and bad input."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorError
from incidents.config import ModelConfig
from incidents.scoring import BatchOutcome, score_batch

# A static z-score: warm from the first point, 100±5, anomalous beyond 3σ (115).
STATIC = ModelConfig(
    "metrics-v1", "1.0", "zscore", {"mean": [100.0], "std": [5.0], "threshold": 3.0}, cooldown=60
)
NORMAL = [101.0]
SPIKE = [140.0]


def _series(seed: int, n: int, n_features: int = 2) -> list[list[float]]:
    """Noise around 100 with a few spikes and a gap, so every code path runs."""
    rng = np.random.default_rng(seed)
    rows: list[list[float]] = rng.normal(100.0, 5.0, size=(n, n_features)).tolist()
    for i in range(35, n, 17):
        rows[i][0] += 80.0
    rows[n // 2][n_features - 1] = math.nan
    return rows


def _key(outcome: BatchOutcome) -> str:
    """Everything a user sees of an outcome (repr keeps every digit and NaN)."""
    return repr(([p.to_dict() for p in outcome.points], [i.to_dict() for i in outcome.incidents]))


def _opened_at(outcome: BatchOutcome) -> list[float]:
    return [i.ts for i in outcome.incidents]


# --- cooldown ---------------------------------------------------------------------------------


def test_cooldown_is_event_time_seconds_within_a_batch() -> None:
    ts = [0.0, 30.0, 59.9, 60.0, 61.0, 119.0, 120.0]
    out = score_batch(STATIC, "host-1", None, ts, [SPIKE] * len(ts))
    assert all(p.is_anomaly for p in out.points)
    assert _opened_at(out) == [0.0, 60.0, 120.0]
    assert [p.incident_id is not None for p in out.points] == [
        True,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    assert [p.incident_id for p in out.points if p.incident_id] == [
        i.incident_id for i in out.incidents
    ]
    assert out.state is not None and out.state["last_incident_ts"] == 120.0


def test_cooldown_carries_over_between_batches_through_the_state() -> None:
    first = score_batch(STATIC, "host-1", None, [1000.0], [SPIKE])
    inside = score_batch(STATIC, "host-1", first.state, [1059.0], [SPIKE])
    after = score_batch(STATIC, "host-1", inside.state, [1060.0], [SPIKE])
    assert _opened_at(first) == [1000.0]
    assert inside.incidents == [] and inside.points[0].is_anomaly
    assert _opened_at(after) == [1060.0]


def test_cooldown_ignores_arrival_time_and_normal_points() -> None:
    # Many normal points in between do not shorten the cooldown: only event time counts.
    ts = [0.0] + [float(i) for i in range(1, 50)] + [50.0]
    values = [SPIKE] + [NORMAL] * 49 + [SPIKE]
    assert _opened_at(score_batch(STATIC, "h", None, ts, values)) == [0.0]


def test_out_of_order_points() -> None:
    # An anomaly earlier in event time than the last incident is not "cooldown seconds later".
    late = score_batch(STATIC, "h", None, [100.0, 50.0, 159.0, 160.0], [SPIKE] * 4)
    assert _opened_at(late) == [100.0, 160.0]
    # A late point still counts from the last incident, not from the newest point seen.
    mixed = score_batch(STATIC, "h", None, [0.0, 500.0, 100.0], [SPIKE, NORMAL, SPIKE])
    assert _opened_at(mixed) == [0.0, 100.0]


def test_without_cooldown_every_anomaly_opens_an_incident() -> None:
    config = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [5.0]})
    out = score_batch(config, "h", None, [0.0, 1.0, 2.0], [SPIKE, NORMAL, SPIKE])
    assert _opened_at(out) == [0.0, 2.0]


# --- dry run ------------------------------------------------------------------------------------

LEARNED = ModelConfig("m", "1", "ewma", {"alpha": 0.2}, history_window=16, cooldown=0)


def test_dry_run_scores_but_learns_nothing_and_opens_nothing() -> None:
    trained = score_batch(LEARNED, "h", None, list(range(40)), _series(1, 40, 1)).state
    assert trained is not None
    before = copy.deepcopy(trained)
    dry = score_batch(LEARNED, "h", trained, [40.0, 41.0], [[400.0], [100.0]], learn=False)
    assert dry.state is None
    assert dry.incidents == []
    assert dry.points[0].is_anomaly and dry.points[0].incident_id is None
    assert trained == before


def test_a_real_run_after_a_dry_run_behaves_as_if_it_never_happened() -> None:
    trained = score_batch(LEARNED, "h", None, list(range(40)), _series(2, 40, 1)).state
    following_ts = [float(t) for t in range(50, 90)]
    following = _series(3, 40, 1)
    direct = score_batch(LEARNED, "h", copy.deepcopy(trained), following_ts, following)
    score_batch(LEARNED, "h", trained, [45.0, 46.0], [[90.0], [400.0]], learn=False)
    after_dry = score_batch(LEARNED, "h", trained, following_ts, following)
    assert direct.incidents, "the check needs incidents to compare"
    assert _key(after_dry) == _key(direct)
    assert after_dry.state == direct.state


def test_a_dry_run_does_not_start_the_cooldown() -> None:
    dry = score_batch(STATIC, "h", None, [0.0], [SPIKE], learn=False)
    assert dry.incidents == [] and dry.state is None
    real = score_batch(STATIC, "h", None, [10.0], [SPIKE])
    assert _opened_at(real) == [10.0]


def test_an_empty_batch_keeps_the_state() -> None:
    state = score_batch(STATIC, "h", None, [0.0], [SPIKE]).state
    assert score_batch(STATIC, "h", state, [], []).state == state
    assert score_batch(STATIC, "h", state, [], [], learn=False).state is None


# --- state round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
@pytest.mark.parametrize("strategy", ["static", "adaptive"])
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=4))
def test_state_through_json_between_batches_equals_one_long_batch(
    detector: str, strategy: str, cuts: list[int]
) -> None:
    config = ModelConfig(
        "m", "1", detector, threshold_strategy=strategy, history_window=16, cooldown=5
    )
    values = _series(7, 120)
    ts = [1795766400.0 + 2 * i for i in range(120)]
    whole = score_batch(config, "h", None, ts, values)

    bounds = [0, *sorted(cuts), 120]
    state: dict[str, Any] | None = None
    pieces: list[BatchOutcome] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        out = score_batch(config, "h", state, ts[lo:hi], values[lo:hi])
        pieces.append(out)
        # the table stores JSON: strict JSON (no NaN) must carry everything
        state = json.loads(json.dumps(out.state, allow_nan=False))
    assert whole.incidents, "the series must open incidents for the comparison to mean something"
    assert repr([p.to_dict() for o in pieces for p in o.points]) == repr(
        [p.to_dict() for p in whole.points]
    )
    assert [i.to_dict() for o in pieces for i in o.incidents] == [
        i.to_dict() for i in whole.incidents
    ]
    assert state == json.loads(json.dumps(whole.state))
    assert state is not None and state["points"] == 120


# --- model versions -----------------------------------------------------------------------------


def _trained(config: ModelConfig) -> dict[str, Any]:
    out = score_batch(config, "h", None, list(range(40)), _series(4, 40, 1))
    assert out.state is not None and out.points[-1].warm
    return out.state


def test_same_version_keeps_the_state() -> None:
    state = _trained(LEARNED)
    out = score_batch(LEARNED, "h", state, [40.0, 41.0], [[100.0], [400.0]])
    assert out.reset is False
    assert [p.warm for p in out.points] == [True, True]
    assert out.points[1].is_anomaly
    assert out.state is not None and out.state["points"] == 42


def test_new_version_resets_the_state_and_warms_up_again() -> None:
    state = _trained(LEARNED)
    v2 = ModelConfig("m", "2", "ewma", {"alpha": 0.2}, history_window=16)
    out = score_batch(v2, "h", state, [40.0, 41.0], [[100.0], [400.0]])
    assert out.reset is True
    assert [p.warm for p in out.points] == [False, False]
    assert not any(p.is_anomaly for p in out.points) and out.incidents == []
    assert out.state is not None
    assert out.state["version"] == "2" and out.state["points"] == 2


def test_new_version_forgets_the_cooldown() -> None:
    slow = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [5.0]}, cooldown=3600)
    state = score_batch(slow, "h", None, [0.0], [SPIKE]).state
    assert score_batch(slow, "h", state, [10.0], [SPIKE]).incidents == []
    v2 = ModelConfig("m", "2", "zscore", {"mean": [100.0], "std": [5.0]}, cooldown=3600)
    assert _opened_at(score_batch(v2, "h", state, [10.0], [SPIKE])) == [10.0]


@pytest.mark.parametrize(
    "changed",
    [
        ModelConfig("m", "1", "mad", history_window=16),
        ModelConfig("m", "1", "ewma", {"alpha": 0.2}, threshold_strategy="adaptive"),
    ],
    ids=["other detector", "other threshold strategy"],
)
def test_an_incompatible_state_of_the_same_version_is_dropped(changed: ModelConfig) -> None:
    out = score_batch(changed, "h", _trained(LEARNED), [40.0], [[100.0]])
    assert out.reset is True
    assert out.points[0].warm is False


def test_a_state_of_another_feature_count_is_dropped() -> None:
    state = _trained(LEARNED)
    out = score_batch(LEARNED, "h", state, [40.0], [[100.0, 5.0]])
    assert out.reset is True and out.state is not None and out.state["n_features"] == 2


def test_static_to_learned_zscore_on_the_same_version_scores() -> None:
    static = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [5.0]})
    state = score_batch(static, "h", None, [0.0, 1.0], [NORMAL, NORMAL]).state
    learned = ModelConfig("m", "1", "zscore")
    out = score_batch(learned, "h", state, [2.0], [NORMAL])
    assert out.reset is True
    assert len(out.points) == 1


# --- input that does not fit ----------------------------------------------------------------------


def test_points_of_different_lengths_raise_and_leave_the_state_alone() -> None:
    state = _trained(LEARNED)
    before = copy.deepcopy(state)
    with pytest.raises(DetectorError, match=r"same number of values, got \[1, 2\]"):
        score_batch(LEARNED, "h", state, [40.0, 41.0, 42.0], [[100.0], [100.0, 1.0], [400.0]])
    assert state == before
    # and the key scores on as if nothing happened
    assert score_batch(LEARNED, "h", state, [40.0], [[400.0]]).points[0].is_anomaly


def test_timestamp_count_must_match_point_count() -> None:
    with pytest.raises(DetectorError, match="got 1 timestamps for 2 points"):
        score_batch(STATIC, "h", None, [0.0], [NORMAL, NORMAL])


def test_points_that_do_not_fit_the_model_raise() -> None:
    with pytest.raises(DetectorError, match="model 'metrics-v1' expects 1 values per point, got 2"):
        score_batch(STATIC, "h", None, [0.0], [[1.0, 2.0]])


# --- incident ids ---------------------------------------------------------------------------------


def test_replaying_the_same_input_gives_the_same_incident_ids() -> None:
    ts = [float(t) for t in range(120)]
    values = _series(5, 120, 1)
    first = score_batch(LEARNED, "h", None, ts, values)
    replay = score_batch(LEARNED, "h", None, ts, values, source="rest")
    assert len(first.incidents) >= 2
    assert [i.incident_id for i in replay.incidents] == [i.incident_id for i in first.incidents]
    assert [i.dedup_key for i in first.incidents] == [i.incident_id for i in first.incidents]
    assert len({i.incident_id for i in first.incidents}) == len(first.incidents)


def test_incident_ids_differ_by_entity_version_and_time() -> None:
    def opened(config: ModelConfig, entity: str, t: float) -> str:
        return score_batch(config, entity, None, [t], [SPIKE]).incidents[0].incident_id

    base = opened(STATIC, "host-1", 1000.0)
    other_version = ModelConfig(
        "metrics-v1", "1.1", "zscore", {"mean": [100.0], "std": [5.0], "threshold": 3.0}
    )
    other_model = ModelConfig("metrics-v2", "1.0", "zscore", {"mean": [100.0], "std": [5.0]})
    others = [
        opened(STATIC, "host-2", 1000.0),
        opened(other_version, "host-1", 1000.0),
        opened(other_model, "host-1", 1000.0),
        opened(STATIC, "host-1", 1000.001),
    ]
    assert base == opened(STATIC, "host-1", 1000.0)
    assert base.startswith("inc-")
    assert len({base, *others}) == 5
