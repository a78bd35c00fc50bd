"""Scoring with the live cache gives exactly what scoring from the stored state gives."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from detectors import DetectorError
from incidents.config import ModelConfig
from incidents.live import LiveCache, LiveState, pin_row
from incidents.scoring import score_batch

CONFIG = ModelConfig.from_dict(
    {
        "model_id": "m",
        "detector": "zscore",
        "params": {"mean": [100, 5], "std": [5, 1], "threshold": 3.0},
        "threshold_strategy": "adaptive",
        "history_window": 16,
        "resolve_after": 20,
        "forecast": {"predictive_horizon": 5},
    }
)


def _batches(seed: int) -> list[tuple[list[float], list[list[float]]]]:
    rng = np.random.default_rng(seed)
    batches, t = [], 1795766400.0
    for size in rng.integers(1, 40, size=25):
        rows = rng.normal([100.0, 5.0], [5.0, 1.0], size=(size, 2))
        rows[rng.random(size) < 0.05, 0] += 60.0
        batches.append(([t + i for i in range(size)], rows.tolist()))
        t += size
    return batches


def _plain(value: Any) -> Any:
    """``value`` as its JSON gives it back (a live state as Faust's codec writes it)."""
    return json.loads(json.dumps(value, default=lambda o: o.__json__()))


@pytest.mark.parametrize("seed", range(4))
def test_cached_objects_score_exactly_like_the_stored_state(seed: int) -> None:
    cache = LiveCache()
    cached_state = cached_shared = plain_state = plain_shared = None
    for ts, rows in _batches(seed):
        with_cache = score_batch(
            CONFIG, "h", cached_state, ts, rows, entity_state=cached_shared, cache=cache
        )
        without = score_batch(CONFIG, "h", plain_state, ts, rows, entity_state=plain_shared)
        assert [p.to_dict() for p in with_cache.points] == [p.to_dict() for p in without.points]
        assert with_cache.events == without.events
        assert _plain(with_cache.state) == _plain(without.state)
        # the entity's state too: kept as it was while its lifecycle did not move
        assert _plain(with_cache.entity_state) == _plain(without.entity_state)
        cached_state = with_cache.state
        plain_state = json.loads(json.dumps(without.state))  # as if read back after a restart
        if with_cache.entity_state is not None:
            cached_shared = with_cache.entity_state
        if without.entity_state is not None:
            plain_shared = json.loads(json.dumps(without.entity_state))
    assert len(cache) == 2  # the key and the entity


def test_a_state_that_is_not_the_one_written_is_parsed_not_trusted() -> None:
    cache = LiveCache()
    learned = ModelConfig.from_dict({"model_id": "m", "detector": "ewma", "warmup": 3})
    ts = [float(i) for i in range(20)]
    mine = score_batch(learned, "h", None, ts, [[float(i % 3)] for i in range(20)], cache=cache)
    other = score_batch(learned, "h", None, ts, [[50.0 + i % 7] for i in range(20)])
    assert mine.state is not None and other.state is not None
    # e.g. the state another worker wrote before a rebalance: it must be parsed, not replaced
    # by this worker's objects for the key
    got = score_batch(learned, "h", other.state, [21.0], [[52.0]], cache=cache)
    want = score_batch(learned, "h", _plain(other.state), [21.0], [[52.0]])
    assert [p.to_dict() for p in got.points] == [p.to_dict() for p in want.points]


def test_a_failed_step_leaves_no_cached_objects_behind() -> None:
    cache = LiveCache()
    first = score_batch(CONFIG, "h", None, [0.0], [[100.0, 5.0]], cache=cache)
    with pytest.raises(DetectorError):
        score_batch(CONFIG, "h", first.state, [1.0], [[100.0, 5.0, 7.0]], cache=cache)
    # the stored state is still the first one: scoring from it must not reuse moved objects
    stored = _plain(first.state)
    again = score_batch(CONFIG, "h", first.state, [1.0], [[100.0, 5.0]], cache=cache)
    fresh = score_batch(CONFIG, "h", stored, [1.0], [[100.0, 5.0]])
    assert [p.to_dict() for p in again.points] == [p.to_dict() for p in fresh.points]
    assert math.isfinite(again.points[0].score)


def test_a_dry_run_does_not_touch_the_cache() -> None:
    cache = LiveCache()
    first = score_batch(CONFIG, "h", None, [0.0], [[100.0, 5.0]], cache=cache)
    score_batch(CONFIG, "h", first.state, [1.0], [[300.0, 5.0]], learn=False, cache=cache)
    assert len(cache) == 2
    after = score_batch(CONFIG, "h", first.state, [1.0], [[100.0, 5.0]], cache=cache)
    fresh = score_batch(CONFIG, "h", _plain(first.state), [1.0], [[100.0, 5.0]])
    assert [p.to_dict() for p in after.points] == [p.to_dict() for p in fresh.points]


@pytest.mark.parametrize("seed", range(3))
def test_a_live_state_read_only_now_and_then_is_what_the_eager_state_is(seed: int) -> None:
    """The worker reads a key's state only when it writes its changelog record (once per
    interval) or answers a query: the state written then, after many steps that read nothing,
    is the state written at every step."""
    cache = LiveCache()
    rng = np.random.default_rng(seed)
    cached_state = cached_shared = plain_state = plain_shared = None
    for k, (ts, rows) in enumerate(_batches(seed)):
        with_cache = score_batch(
            CONFIG, "h", cached_state, ts, rows, entity_state=cached_shared, cache=cache
        )
        without = score_batch(CONFIG, "h", plain_state, ts, rows, entity_state=plain_shared)
        assert isinstance(with_cache.state, LiveState)
        assert with_cache.state["points"] == without.state["points"]  # read without writing
        assert not with_cache.state.written
        if rng.random() < 0.3 or k == 24:
            assert _plain(with_cache.state) == _plain(without.state)
        cached_state, plain_state = with_cache.state, without.state
        if with_cache.entity_state is not None:
            cached_shared = with_cache.entity_state
        if without.entity_state is not None:
            plain_shared = without.entity_state


def test_a_live_state_pinned_by_a_write_is_written_before_its_objects_move_on() -> None:
    cache = LiveCache()
    first = score_batch(CONFIG, "h", None, [0.0], [[100.0, 5.0]], cache=cache)
    want = _plain(score_batch(CONFIG, "h", None, [0.0], [[100.0, 5.0]]).state)
    assert isinstance(first.state, LiveState)
    first.state.pin()  # a changelog record holds it, to be serialised later
    score_batch(CONFIG, "h", first.state, [1.0], [[130.0, 5.0]], cache=cache)
    assert first.state.written and _plain(first.state) == want


def test_an_unpinned_live_state_is_not_readable_once_its_objects_moved_on() -> None:
    cache = LiveCache()
    first = score_batch(CONFIG, "h", None, [0.0], [[100.0, 5.0]], cache=cache)
    score_batch(CONFIG, "h", first.state, [1.0], [[130.0, 5.0]], cache=cache)
    assert first.state is not None
    with pytest.raises(RuntimeError, match="moved on"):
        first.state["model"]


def test_the_entity_state_is_written_from_its_correlator_only_when_read() -> None:
    """The worker's shared state of an entity (incident lifecycle and the correlation of its
    signals): its correlation is written when read, not at every message; one a changelog
    record holds keeps what it was while later messages move the correlator on; one nobody
    holds cannot be read once they did; and a message that changes nothing leaves it readable."""
    cache = LiveCache()
    cached_state = cached_shared = plain_state = plain_shared = None
    held: list[tuple[LiveState, Any]] = []
    dropped: list[LiveState] = []
    for k, (ts, rows) in enumerate(_batches(1)):
        with_cache = score_batch(
            CONFIG, "h", cached_state, ts, rows, entity_state=cached_shared, cache=cache
        )
        without = score_batch(CONFIG, "h", plain_state, ts, rows, entity_state=plain_shared)
        shared = with_cache.entity_state
        assert type(shared) is LiveState and not shared.written
        assert shared["open"] == without.entity_state["open"]  # read without writing
        assert not shared.written
        if k % 4 == 0:
            pin_row({"models": {}, "shared": shared})  # as a changelog write does
            held.append((shared, _plain(without.entity_state)))
        else:
            dropped.append(shared)
        cached_state, cached_shared = with_cache.state, shared
        plain_state = json.loads(json.dumps(without.state))
        plain_shared = json.loads(json.dumps(without.entity_state))
    for shared, want in held:
        assert _plain(shared) == want
    with pytest.raises(RuntimeError, match="moved on"):
        dropped[0]["signals"]
    gap = score_batch(
        CONFIG, "h", cached_state, [1e10], [[math.nan, math.nan]], entity_state=cached_shared,
        cache=cache,
    )  # fmt: skip
    assert gap.entity_state is None  # the entity's state stays the last one, readable
    assert _plain(cached_shared) == plain_shared
