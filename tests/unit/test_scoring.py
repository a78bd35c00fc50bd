"""score_batch: incidents and cooldown, dry run, counters, both states' round trip, versions, input."""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorError
from detectors.suppression import SuppressionSpec
from incidents.config import ModelConfig
from incidents.live import LiveCache
from incidents.scoring import BatchOutcome, score_batch

# A static z-score: warm from the first point, 100±5, anomalous beyond 3σ (115); a spike of 8σ
# is above twice the threshold, so it alerts alone (no persistence needed).
STATIC = ModelConfig(
    "metrics-v1", "1.0", "zscore", {"mean": [100.0], "std": [5.0], "threshold": 3.0}, cooldown=60
)
NORMAL = [101.0]
SPIKE = [140.0]


def _static(**changes: Any) -> ModelConfig:
    return ModelConfig(
        "metrics-v1",
        "1.0",
        "zscore",
        {"mean": [100.0], "std": [5.0], "threshold": 3.0},
        **{"cooldown": 60, **changes},
    )


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
    return repr(([p.to_dict() for p in outcome.points], outcome.events, sorted(outcome.counters)))


def _opened_at(outcome: BatchOutcome) -> list[float]:
    return [e["ts"] for e in outcome.opened]


def _json(value: Any) -> Any:
    """Through the table's storage: strict JSON (no NaN) must carry everything."""
    return json.loads(json.dumps(value, allow_nan=False))


class Key:
    """One (model, entity) key and its entity, with both states stored as JSON between batches."""

    def __init__(self, config: ModelConfig, entity: str = "h") -> None:
        self.config = config
        self.entity = entity
        self.state: dict[str, Any] | None = None
        self.entity_state: dict[str, Any] | None = None

    def run(
        self, ts: Sequence[float], values: Sequence[Sequence[float]], **kwargs: Any
    ) -> BatchOutcome:
        out = score_batch(
            self.config,
            self.entity,
            self.state,
            ts,
            values,
            entity_state=self.entity_state,
            **kwargs,
        )
        if out.state is not None:
            self.state = _json(out.state)
        if out.entity_state is not None:
            self.entity_state = _json(out.entity_state)
        return out


# --- incidents and cooldown ---------------------------------------------------------------------


def test_an_open_incident_absorbs_further_alerts_until_it_resolves() -> None:
    ts = [0.0, 30.0, 59.9, 60.0, 61.0, 119.0, 120.0]
    out = score_batch(STATIC, "host-1", None, ts, [SPIKE] * len(ts))
    assert all(p.is_anomaly and p.alert for p in out.points)
    assert [e["event"] for e in out.events] == ["open"] and _opened_at(out) == [0.0]
    assert [p.incident_id for p in out.points] == [out.events[0]["incident_id"]] + [None] * 6
    # absorbed, not suppressed: they belong to the open incident
    assert [p.suppressed_by for p in out.points] == [None] * 7
    assert out.entity_state is not None
    assert out.entity_state["open"]["incident_id"] == out.events[0]["incident_id"]


def test_cooldown_applies_between_incidents_in_event_time_seconds() -> None:
    config = _static(resolve_after=10)
    rows = [
        (0.0, SPIKE),  # opens
        (10.0, NORMAL),  # resolves
        (30.0, SPIKE),  # 30 s after the open: cooldown
        (59.9, SPIKE),  # cooldown
        (60.0, SPIKE),  # 60 s after the open: opens
        (70.0, NORMAL),  # resolves
        (119.0, SPIKE),  # cooldown
        (120.0, SPIKE),  # opens
    ]
    out = score_batch(config, "h", None, [t for t, _ in rows], [v for _, v in rows])
    assert _opened_at(out) == [0.0, 60.0, 120.0]
    assert [e["event"] for e in out.events] == ["open", "resolve", "open", "resolve", "open"]
    assert [p.suppressed_by for p in out.points] == [None, None] + ["cooldown"] * 2 + [
        None,
        None,
        "cooldown",
        None,
    ]
    assert [p.incident_id for p in out.points if p.incident_id] == [
        e["incident_id"] for e in out.opened
    ]
    assert out.counters["suppressed.cooldown"] == 3 and out.counters["alerts"] == 6


def test_cooldown_carries_over_between_batches_through_the_entity_state() -> None:
    key = Key(_static(resolve_after=10))
    first = key.run([1000.0, 1010.0], [SPIKE, NORMAL])
    inside = key.run([1059.0], [SPIKE])
    after = key.run([1060.0], [SPIKE])
    assert [e["event"] for e in first.events] == ["open", "resolve"]
    assert inside.events == [] and inside.points[0].alert
    assert inside.points[0].suppressed_by == "cooldown"
    assert _opened_at(after) == [1060.0]
    # it is the entity's state that remembers: the key's state alone does not
    alone = score_batch(key.config, "h", first.state, [1059.0], [SPIKE])
    assert _opened_at(alone) == [1059.0]


def test_an_open_incident_carries_over_between_batches() -> None:
    key = Key(_static(resolve_after=10))
    opened = key.run([0.0], [SPIKE])
    absorbed = key.run([5.0], [SPIKE])
    resolved = key.run([16.0], [NORMAL])
    assert absorbed.events == [] and absorbed.points[0].suppressed_by is None
    assert [(e["event"], e["incident_id"]) for e in resolved.events] == [
        ("resolve", opened.events[0]["incident_id"])
    ]


def test_cooldown_ignores_arrival_time_and_normal_points() -> None:
    # Many normal points in between do not shorten the cooldown: only event time counts.
    ts = [0.0] + [float(i) for i in range(1, 50)] + [50.0]
    values = [SPIKE] + [NORMAL] * 49 + [SPIKE]
    out = score_batch(_static(resolve_after=10), "h", None, ts, values)
    assert _opened_at(out) == [0.0]
    assert out.points[-1].suppressed_by == "cooldown"


def test_out_of_order_points() -> None:
    # Late alerts of an open incident join it.
    late = score_batch(STATIC, "h", None, [100.0, 50.0, 159.0, 160.0], [SPIKE] * 4)
    assert _opened_at(late) == [100.0]
    # A late point after the incident resolved counts from the last open, not the newest point.
    mixed = score_batch(STATIC, "h", None, [0.0, 500.0, 100.0], [SPIKE, NORMAL, SPIKE])
    assert [(e["event"], e["ts"]) for e in mixed.events] == [
        ("open", 0.0),
        ("resolve", 0.0),
        ("open", 100.0),
    ]
    # An alert earlier than the last open never opens, whatever the cooldown.
    earlier = score_batch(
        _static(cooldown=0), "h", None, [100.0, 500.0, 50.0], [SPIKE, NORMAL, SPIKE]
    )
    assert _opened_at(earlier) == [100.0] and earlier.points[-1].suppressed_by == "cooldown"


def test_without_cooldown_every_alert_after_a_resolve_opens_an_incident() -> None:
    config = ModelConfig("m", "1", "zscore", {"mean": [100.0], "std": [5.0]}, resolve_after=0)
    out = score_batch(config, "h", None, [0.0, 1.0, 2.0], [SPIKE, NORMAL, SPIKE])
    assert _opened_at(out) == [0.0, 2.0]


def test_points_report_alert_suppression_and_root_cause() -> None:
    out = score_batch(_static(), "h", None, [0.0, 1.0, 2.0], [NORMAL, [120.0], [121.0]])
    assert [p.to_dict() for p in out.points] == [
        {
            "ts": 0.0,
            "score": pytest.approx(0.2),
            "threshold": 3.0,
            "is_anomaly": False,
            "warm": True,
            "alert": False,
            "suppressed_by": None,
            "incident_id": None,
            "root_cause": None,
            "correlated": [],
        },
        {
            "ts": 1.0,
            "score": 4.0,
            "threshold": 3.0,
            "is_anomaly": True,
            "warm": True,
            "alert": False,
            "suppressed_by": "persistence",
            "incident_id": None,
            "root_cause": "feature_0 4.0σ above baseline (120 vs 100±5)",
            "correlated": [],
        },
        {
            "ts": 2.0,
            "score": 4.2,
            "threshold": 3.0,
            "is_anomaly": True,
            "warm": True,
            "alert": True,
            "suppressed_by": None,
            "incident_id": out.events[0]["incident_id"],
            "root_cause": "feature_0 4.2σ above baseline (121 vs 100±5)",
            "correlated": [],
        },
    ]


# --- counters -------------------------------------------------------------------------------------

# min_abs_deviation 20: a move of less than 20 (4σ) is too small to page about.
COUNTED = _static(cooldown=120, resolve_after=30, suppression=SuppressionSpec(min_abs_deviation=20))
SEQUENCE = [
    (0.0, 101.0, False, None),
    (10.0, 118.0, False, "min_deviation"),  # 3.6σ, but only 18 away
    (20.0, 101.0, False, None),
    (30.0, 101.0, False, None),
    (40.0, 121.0, False, "persistence"),  # 1 flagged of the last 3 (the 118 is 3 points back)
    (50.0, 122.0, True, None),  # 2 of 3: opens
    (60.0, 101.0, False, None),
    (90.0, 101.0, False, None),  # 40 s after the last elevated point: resolves
    (100.0, 140.0, True, "cooldown"),  # 50 s after the open
    (200.0, 101.0, False, None),
    (210.0, 140.0, True, None),  # 160 s after the open: opens
    (220.0, 113.0, False, None),  # 2.6σ: not an anomaly, but above the 2.4σ recovery bar
    (245.0, 101.0, False, None),  # 25 s after the last elevated point
    (250.0, 101.0, False, None),  # 30 s: resolves
]
SEQUENCE_COUNTERS = {
    "points": 14,
    "anomalies": 5,
    "alerts": 3,
    "suppressed.min_deviation": 1,
    "suppressed.persistence": 1,
    "suppressed.cooldown": 1,
    "opened": 2,
    "resolved": 2,
    f"version.{COUNTED.model_version}": 14,  # points scored by each model version
}


def test_counters_of_a_realistic_sequence() -> None:
    ts = [t for t, *_ in SEQUENCE]
    out = score_batch(COUNTED, "host-1", None, ts, [[v] for _, v, *_ in SEQUENCE])
    assert [(p.alert, p.suppressed_by) for p in out.points] == [(a, s) for *_, a, s in SEQUENCE]
    assert [(e["event"], e["ts"]) for e in out.events] == [
        ("open", 50.0),
        ("resolve", 50.0),
        ("open", 210.0),
        ("resolve", 210.0),
    ]
    assert [e["resolved_at"] for e in out.events if e["event"] == "resolve"] == [
        "1970-01-01T00:01:30.000Z",
        "1970-01-01T00:04:10.000Z",
    ]
    assert dict(out.counters) == SEQUENCE_COUNTERS


@pytest.mark.parametrize("cut", [1, 5, 8, 9, 12])
def test_counters_of_batches_add_up_to_the_counters_of_one_batch(cut: int) -> None:
    key = Key(COUNTED, "host-1")
    ts = [t for t, *_ in SEQUENCE]
    values = [[v] for _, v, *_ in SEQUENCE]
    total: Counter[str] = Counter()
    for lo, hi in [(0, cut), (cut, len(SEQUENCE))]:
        total += key.run(ts[lo:hi], values[lo:hi]).counters
    assert dict(total) == SEQUENCE_COUNTERS


def test_updates_are_not_counted() -> None:
    config = _static(suppression=SuppressionSpec(persistence_k=1, persistence_n=1))
    out = score_batch(config, "h", None, [0.0, 1.0], [[120.0], [140.0]])
    assert [e["event"] for e in out.events] == ["open", "update"]
    assert out.counters["opened"] == 1 and "updated" not in out.counters


# --- dry run ------------------------------------------------------------------------------------

LEARNED = ModelConfig("m", "1", "ewma", {"alpha": 0.2}, history_window=16, resolve_after=5)


def test_dry_run_scores_but_learns_nothing_and_opens_nothing() -> None:
    trained = score_batch(LEARNED, "h", None, list(range(40)), _series(1, 40, 1))
    assert trained.state is not None and trained.entity_state is not None
    before = copy.deepcopy((trained.state, trained.entity_state))
    dry = score_batch(
        LEARNED,
        "h",
        trained.state,
        [40.0, 41.0],
        [[400.0], [100.0]],
        learn=False,
        entity_state=trained.entity_state,
    )
    assert dry.state is None and dry.entity_state is None
    assert dry.events == []
    assert dry.points[0].is_anomaly and dry.points[0].alert and dry.points[0].incident_id is None
    assert (trained.state, trained.entity_state) == before


def test_a_real_run_after_a_dry_run_behaves_as_if_it_never_happened() -> None:
    trained = Key(LEARNED)
    trained.run(list(range(40)), _series(2, 40, 1))
    direct = copy.deepcopy(trained)
    following_ts = [float(t) for t in range(50, 90)]
    following = _series(3, 40, 1)
    expected = direct.run(following_ts, following)
    trained.run([45.0, 46.0], [[90.0], [400.0]], learn=False)
    after_dry = trained.run(following_ts, following)
    assert expected.opened, "the check needs incidents to compare"
    assert _key(after_dry) == _key(expected)
    assert (trained.state, trained.entity_state) == (direct.state, direct.entity_state)


def test_a_dry_run_does_not_start_the_cooldown() -> None:
    key = Key(_static(resolve_after=10))
    key.run([0.0, 10.0], [SPIKE, NORMAL])
    dry = key.run([100.0], [SPIKE], learn=False)
    assert dry.events == [] and dry.points[0].alert
    real = key.run([100.0], [SPIKE])
    assert _opened_at(real) == [100.0]


def test_dry_run_points_report_what_would_alert_without_changing_the_state() -> None:
    key = Key(COUNTED)
    # one flagged point is stored in the suppression window
    first = key.run([0.0], [[121.0]])
    assert first.points[0].suppressed_by == "persistence"
    stored = copy.deepcopy((key.state, key.entity_state))
    # a dry run sees the stored window: the second flagged point would alert
    for _ in range(2):
        dry = key.run([10.0], [[121.0]], learn=False)
        assert (dry.points[0].alert, dry.points[0].suppressed_by) == (True, None)
        assert (key.state, key.entity_state) == stored
    assert key.run([10.0], [[121.0]]).opened
    # a fresh dry run of the whole sequence reports the suppression decisions of a real run
    dry = score_batch(
        COUNTED,
        "host-1",
        None,
        [t for t, *_ in SEQUENCE],
        [[v] for _, v, *_ in SEQUENCE],
        learn=False,
    )
    assert dry.state is None and dry.entity_state is None and dry.events == []
    # the lifecycle runs on a copy, so the cooldown is reported too
    assert [(p.alert, p.suppressed_by) for p in dry.points] == [(a, s) for *_, a, s in SEQUENCE]


def test_the_entity_state_carries_the_lifecycle_and_the_signals_to_correlate() -> None:
    # every learned batch feeds the entity's cross-stream correlation, so the state is returned
    quiet = score_batch(STATIC, "h", None, [0.0, 1.0], [NORMAL, NORMAL])
    assert quiet.entity_state is not None and quiet.entity_state["open"] is None
    assert [s["name"] for s in quiet.entity_state["signals"]["signals"]] == [
        "metrics:metrics-v1:feature_0"
    ]
    opened = score_batch(STATIC, "h", None, [0.0], [SPIKE])
    assert opened.entity_state is not None and opened.entity_state["open"] is not None
    still_open = score_batch(STATIC, "h", None, [1.0], [NORMAL], entity_state=opened.entity_state)
    assert still_open.entity_state is not None
    # the same incident; only the run of elevated points it keeps (the spike's) ended
    assert opened.entity_state["open"]["runs"] == {"metrics-v1": 1}
    assert still_open.entity_state["open"] == {
        k: v for k, v in opened.entity_state["open"].items() if k != "runs"
    }
    # a dry run returns nothing to store
    dry = score_batch(
        STATIC, "h", None, [2.0], [SPIKE], entity_state=opened.entity_state, learn=False
    )
    assert dry.entity_state is None


def test_an_empty_batch_keeps_the_state() -> None:
    out = score_batch(STATIC, "h", None, [0.0], [SPIKE])
    assert score_batch(STATIC, "h", out.state, [], []).state == out.state
    assert score_batch(STATIC, "h", out.state, [], [], learn=False).state is None
    empty = score_batch(STATIC, "h", out.state, [], [], entity_state=out.entity_state)
    assert empty.events == [] and empty.entity_state is None  # unchanged: keep the stored one


# --- both states round trip -----------------------------------------------------------------------


@pytest.mark.parametrize("detector", ["zscore", "ewma", "mad"])
@pytest.mark.parametrize("strategy", ["static", "adaptive"])
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=4))
def test_both_states_through_json_between_batches_equal_one_long_batch(
    detector: str, strategy: str, cuts: list[int]
) -> None:
    # spikes every 34 s; an incident resolves 20 s after its spike; the next one is in the
    # cooldown (50 s), the one after opens again
    config = ModelConfig(
        "m",
        "1",
        detector,
        threshold_strategy=strategy,
        history_window=16,
        cooldown=50,
        resolve_after=20,
    )
    values = _series(7, 120)
    ts = [1795766400.0 + 2 * i for i in range(120)]
    whole = score_batch(config, "h", None, ts, values)

    bounds = [0, *sorted(cuts), 120]
    key = Key(config)
    pieces = [key.run(ts[lo:hi], values[lo:hi]) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    assert whole.counters["opened"] >= 2 and whole.counters["resolved"] >= 2
    assert whole.counters["suppressed.cooldown"] >= 1
    # The batch path sums in another order: numbers agree to ~1e-12, the rest exactly.
    assert _rounded([p.to_dict() for o in pieces for p in o.points]) == _rounded(
        [p.to_dict() for p in whole.points]
    )
    assert _rounded([e for o in pieces for e in o.events]) == _rounded(whole.events)
    assert sum((o.counters for o in pieces), Counter()) == whole.counters
    assert key.state is not None and whole.state is not None
    # insights follow each message's last INSIGHTS_TAIL points, so they depend on the cuts
    assert _rounded({**key.state, "insights": None}) == _rounded(
        {**_json(whole.state), "insights": None}
    )
    assert key.entity_state is not None and whole.entity_state is not None
    assert _rounded(key.entity_state["open"]) == _rounded(_json(whole.entity_state)["open"])
    assert key.entity_state["last_opened"] == whole.entity_state["last_opened"]
    assert key.state["points"] == 120


def _rounded(value: Any) -> Any:
    """``value`` with every float at 9 significant digits, for comparisons across batchings."""
    if isinstance(value, float):
        return value if not math.isfinite(value) else float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=4))
def test_insights_of_small_messages_follow_every_point(cuts: list[int]) -> None:
    config = ModelConfig("m", "1", "zscore", features=("cpu", "mem"))
    values = _series(3, 60)
    ts = [1795766400.0 + 10 * i for i in range(60)]
    whole = score_batch(config, "h", None, ts, values)
    bounds = [0, *sorted(cuts), 60]
    key = Key(config)
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        key.run(ts[lo:hi], values[lo:hi])
    assert key.state is not None and whole.state is not None
    assert _rounded(key.state["insights"]) == _rounded(_json(whole.state)["insights"])


# --- model versions -----------------------------------------------------------------------------


def _trained(config: ModelConfig) -> dict[str, Any]:
    out = score_batch(config, "h", None, list(range(40)), _series(4, 40, 1))
    assert out.state is not None and out.points[-1].warm
    return out.state


def test_same_version_keeps_the_state() -> None:
    state = _trained(LEARNED)
    out = score_batch(LEARNED, "h", state, [40.0, 41.0], [[100.0], [400.0]])
    assert out.reset is False and out.points_seen == 40
    assert [p.warm for p in out.points] == [True, True]
    assert out.points[1].is_anomaly and out.points[1].alert
    assert out.state is not None and out.state["points"] == 42


def test_same_version_keeps_the_suppression_window() -> None:
    config = _static()
    state = score_batch(config, "h", None, [0.0], [[121.0]]).state
    assert score_batch(config, "h", state, [1.0], [[121.0]]).points[0].alert
    v2 = ModelConfig("metrics-v1", "2.0", "zscore", {"mean": [100.0], "std": [5.0]})
    fresh = score_batch(v2, "h", state, [1.0], [[121.0]])
    assert fresh.reset and fresh.points[0].suppressed_by == "persistence"


def test_new_version_resets_the_state_and_warms_up_again() -> None:
    state = _trained(LEARNED)
    v2 = ModelConfig("m", "2", "ewma", {"alpha": 0.2}, history_window=16)
    out = score_batch(v2, "h", state, [40.0, 41.0], [[100.0], [400.0]])
    assert out.reset is True and out.points_seen == 0
    assert [p.warm for p in out.points] == [False, False]
    assert not any(p.is_anomaly or p.alert for p in out.points) and out.events == []
    assert out.state is not None
    assert out.state["version"] == "2" and out.state["points"] == 2


def test_new_version_forgets_the_cooldown() -> None:
    slow = _static(cooldown=3600, resolve_after=10)
    key = Key(slow)
    key.run([0.0, 10.0], [SPIKE, NORMAL])
    assert key.run([20.0], [SPIKE]).points[0].suppressed_by == "cooldown"
    key.config = ModelConfig(
        "metrics-v1", "2.0", "zscore", {"mean": [100.0], "std": [5.0]}, cooldown=3600
    )
    assert _opened_at(key.run([30.0], [SPIKE])) == [30.0]


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
    assert out.state is not None and out.state["points"] == 1


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


def test_points_of_different_lengths_raise_and_leave_the_states_alone() -> None:
    key = Key(LEARNED)
    key.run(list(range(40)), _series(4, 40, 1))
    key.run([40.0], [[400.0]])  # an open incident in the entity's state
    assert key.entity_state is not None and key.entity_state["open"] is not None
    state, entity_state = key.state, key.entity_state
    before = copy.deepcopy((state, entity_state))
    with pytest.raises(DetectorError, match=r"same number of values, got \[1, 2\]"):
        score_batch(
            LEARNED,
            "h",
            state,
            [41.0, 42.0, 43.0],
            [[100.0], [100.0, 1.0], [400.0]],
            entity_state=entity_state,
        )
    assert (state, entity_state) == before
    # and the key scores on as if nothing happened
    out = key.run([41.0], [[400.0]])
    assert out.points[0].is_anomaly and out.reset is False


def test_timestamp_count_must_match_point_count() -> None:
    with pytest.raises(DetectorError, match="got 1 timestamps for 2 points"):
        score_batch(STATIC, "h", None, [0.0], [NORMAL, NORMAL])


def test_points_that_do_not_fit_the_model_raise() -> None:
    with pytest.raises(DetectorError, match="model 'metrics-v1' expects 1 values per point, got 2"):
        score_batch(STATIC, "h", None, [0.0], [[1.0, 2.0]])


# --- incident ids ---------------------------------------------------------------------------------


def test_replaying_the_same_input_gives_the_same_incidents_and_events() -> None:
    ts = [float(t) for t in range(120)]
    values = _series(5, 120, 1)
    first = score_batch(LEARNED, "h", None, ts, values)
    replay = score_batch(LEARNED, "h", None, ts, values)
    assert len(first.opened) >= 2
    assert replay.events == first.events
    assert [(e["event"], e["seq"]) for e in first.events][:2] == [("open", 0), ("resolve", 1)]
    ids = [e["incident_id"] for e in first.opened]
    assert [e["dedup_key"] for e in first.opened] == ids
    assert len(set(ids)) == len(ids)
    # from another source (the REST API), the incidents are the same ones
    rest = score_batch(LEARNED, "h", None, ts, values, source="rest")
    assert [(e["event"], e["incident_id"], e["seq"]) for e in rest.events] == [
        (e["event"], e["incident_id"], e["seq"]) for e in first.events
    ]


def test_incident_ids_differ_by_entity_version_and_time() -> None:
    def opened(config: ModelConfig, entity: str, t: float) -> str:
        return str(score_batch(config, entity, None, [t], [SPIKE]).opened[0]["incident_id"])

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


# --- grouping across streams through score_batch --------------------------------------------------


def test_models_of_one_entity_share_one_incident() -> None:
    metrics = _static(alert_channels=("pagerduty",))
    logs = ModelConfig(
        "logs-v1",
        "1",
        "zscore",
        {"mean": [2.0], "std": [1.0], "threshold": 3.0},
        features=("error_lines",),
        stream="logs",
        alert_channels=("slack",),
        cooldown=600,
    )
    metrics_key, logs_key = Key(metrics, "host-1"), Key(logs, "host-1")
    opened = metrics_key.run([1000.0], [SPIKE], source="telemetry.metrics")
    logs_key.entity_state = metrics_key.entity_state
    joined = logs_key.run([1030.0], [[40.0]], source="telemetry.logs")
    assert joined.opened == [] and joined.points[0].alert
    (update,) = joined.events
    assert update["incident_id"] == opened.events[0]["incident_id"]
    assert update["models"] == ["metrics-v1", "logs-v1"]
    assert [s["source"] for s in update["signals"]] == ["telemetry.metrics", "telemetry.logs"]
    assert update["alert_channels"] == ["pagerduty", "slack"]
    assert joined.counters["alerts"] == 1 and "opened" not in joined.counters


@settings(max_examples=20, deadline=None)
@given(n=st.integers(min_value=1, max_value=120), learn=st.booleans())
def test_the_columnar_reply_gives_back_every_point(n: int, learn: bool) -> None:
    from incidents.outcome import points_from_columns

    config = ModelConfig("m", "1", "zscore", history_window=16, cooldown=50, resolve_after=20)
    ts = [1795766400.0 + 2 * i for i in range(n)]
    out = score_batch(config, "h", None, ts, _series(3, n), learn=learn)
    columns = json.loads(json.dumps(out.columns()))  # as it travels on the reply topic
    points = [p.to_dict() for p in out.points]
    assert points_from_columns(columns) == json.loads(json.dumps(points))
    if n >= 60 and learn:  # spikes, suppression and an incident: the extra fields travel too
        assert any(p["incident_id"] for p in points) and any(p["root_cause"] for p in points)
        assert any(p["suppressed_by"] for p in points)


def test_a_block_explains_its_flagged_points_as_of_its_own_scoring() -> None:
    """Root causes of a block's flagged points (written when first read) name the partners
    the points were scored with, even when the key and its entity have moved on since."""
    cpu = ModelConfig(
        "cpu", "1", "zscore", {"mean": [100.0, 50.0], "std": [5.0, 2.5], "threshold": 3.0}
    )
    logs = ModelConfig("errors", "1", "zscore", {"mean": [10.0], "std": [1.0], "threshold": 3.0})
    rng = np.random.default_rng(4)
    ts = [1795766400.0 + 10.0 * i for i in range(600)]
    wave = 10.0 * np.sin(np.arange(600) / 40.0)  # what both streams follow
    load = 100.0 + wave + rng.normal(0.0, 1.0, 600)
    load[160::23] += 18.0  # single spikes: flagged, and held back by persistence alone
    rows = np.column_stack([load, load / 2.0 + rng.normal(0.0, 0.2, 600)]).tolist()
    errors = (10.0 + wave / 10.0 + rng.normal(0.0, 0.05, 600)).reshape(-1, 1).tolist()

    def points_of_the_second_block(read_late: bool) -> list[dict[str, Any]]:
        cache, cpu_key, logs_key = LiveCache(), Key(cpu), Key(logs)
        logs_key.run(ts[:300], errors[:300], source="telemetry.logs")
        cpu_key.entity_state = logs_key.entity_state
        cpu_key.run(ts[:150], rows[:150])  # the model's features now correlate
        out = score_batch(
            cpu,
            "h",
            cpu_key.state,
            ts[150:300],
            rows[150:300],
            entity_state=cpu_key.entity_state,
            cache=cache,
        )
        if read_late:  # the same cached objects take the next block first
            assert out.state is not None
            score_batch(
                cpu,
                "h",
                out.state,
                ts[300:],
                rows[300:],
                entity_state=out.entity_state,
                cache=cache,
            )
        return [p.to_dict() for p in out.points]

    now, late = points_of_the_second_block(False), points_of_the_second_block(True)
    assert late == now
    held = [p for p in now if p["is_anomaly"] and not p["alert"]]
    assert held and all(p["suppressed_by"] == "persistence" for p in held)
    assert all("moving with feature_1" in p["root_cause"] for p in held)
    assert all("logs:errors:feature_0" in p["root_cause"] for p in held)
