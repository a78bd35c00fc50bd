"""Log features: templates, tumbling windows, error ratio, template rarity, state."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import DetectorError
from detectors.log_features import FEATURES, MAX_EMPTY_WINDOWS, LogWindowFeatures, LogWindows
from detectors.log_templates import MAX_TEMPLATE_CHARS, is_error_level, template

T0 = 1795766400.0  # a multiple of 60
DAY = 86400.0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "timeout after 3012 ms calling 10.0.0.7:8080 req=9f3a2c1e-7b1d-4c55-a0f4-2d9e6b1c0a77",
            "timeout after 12 ms calling 192.168.1.200:443 req=0b4c8e21-55aa-4f0e-9d3c-8a7f6e5d4c3b",
        ),
        ("user 42 logged in", "user 43 logged in"),
        ("request took 3012ms", "request took 1.5ms"),
        ("took 3.2e-4s", "took 12s"),
        ("checksum 9f86d081884c7d65 mismatch", "checksum a3c5e7f9b1d20468 mismatch"),
        ("segfault at 0x7ffd5e8b2a10", "segfault at 0xDEADBEEF"),
        ("connect to [2001:db8::1]:443 failed", "connect to [fe80::1ff:fe23:4567:890a]:80 failed"),
        ("peer 2001:0db8:85a3:0000:0000:8a2e:0370:7334 gone", "peer ::1 gone"),
        ("mail to alice@example.com bounced", "mail to bob.smith+ops@mail.example.org bounced"),
        ("GET https://x.io/a?id=1&t=2 ok", "GET https://x.io/a?q=hello ok"),
        ("unknown key 'timeout' in config", "unknown key 'retries' in config"),
        ('user "alice" locked', 'user "bob" locked'),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ rejected",
            "token dGhpcyBpcyBhIHNlY3JldA2 rejected",
        ),
        ("worker-3  started\tin 2 s", "worker-12 started in 40 s"),
    ],
)
def test_messages_of_one_kind_share_a_template(first: str, second: str) -> None:
    assert template(first) == template(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("user 42 logged in", "user 42 logged out"),
        ("timeout calling db", "connection refused calling db"),
        ('{"user": "bob"}', '{"account": "bob"}'),  # quoted keys are kept
        ("can't open file", "cannot open file"),
        ("GET /api/v1/Users/Profile2023 ok", "GET /api/v1/Items/Profile2023 ok"),  # paths stay
    ],
)
def test_different_wording_gives_different_templates(first: str, second: str) -> None:
    assert template(first) != template(second)


def test_template_keeps_words_and_masks_each_kind() -> None:
    line = (
        "2026-11-27T08:00:00Z conn 0x1f from 10.0.0.7:8080 user=bob@example.com "
        "id=9f3a2c1e-7b1d-4c55-a0f4-2d9e6b1c0a77 said 'hi' url=http://h/p?x=1 took 5ms"
    )
    assert template(line) == (
        "<num>-<num>-<num>T<num>:<num>:<num>Z conn <hex> from <ip> user=<email> "
        "id=<uuid> said <str> url=http://h/p?<query> took <num>ms"
    )


def test_template_is_cut_and_needs_a_string() -> None:
    assert len(template("word " * 500)) == MAX_TEMPLATE_CHARS
    with pytest.raises(DetectorError, match="^message must be a string, got 3$"):
        template(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "level", ["error", "ERR", "Critical", "crit", "FATAL", "alert", "emergency", "emerg", " error "]
)
def test_error_levels(level: str) -> None:
    assert is_error_level(level)


@pytest.mark.parametrize("level", ["info", "warn", "warning", "debug", "notice", "", None])
def test_non_error_levels(level: str | None) -> None:
    assert not is_error_level(level)


def test_window_closes_when_an_event_is_past_its_end() -> None:
    logs = LogWindows(window=60.0)
    assert logs.add(T0 + 5, "info", "a") == []
    assert logs.add(T0 + 59.9, "error", "b") == []
    closed = logs.add(T0 + 60, "info", "a")
    assert [(w.start, w.end, w.count, w.errors) for w in closed] == [(T0, T0 + 60, 2, 1)]
    assert closed[0].event_rate == pytest.approx(2 / 60)
    assert closed[0].error_ratio == 0.5


def test_windows_are_aligned_on_the_epoch() -> None:
    logs = LogWindows(window=60.0)
    logs.add(T0 + 45, "info", "a")
    (closed,) = logs.add(T0 + 70, "info", "a")
    assert (closed.start, closed.end, closed.count) == (T0, T0 + 60, 1)


def test_empty_windows_in_a_gap_close_with_zero_counts() -> None:
    logs = LogWindows(window=60.0)
    logs.add(T0 + 1, "error", "boom")
    closed = logs.add(T0 + 4 * 60 + 1, "info", "ok")
    assert [(w.start - T0, w.count) for w in closed] == [(0, 1), (60, 0), (120, 0), (180, 0)]
    for empty in closed[1:]:
        assert empty.values() == [0.0, 0.0, 0.0]
        assert (empty.top_templates, empty.new_templates) == ([], [])


def test_a_big_time_jump_emits_a_bounded_number_of_windows() -> None:
    logs = LogWindows(window=60.0)
    logs.add(T0, "info", "a")
    closed = logs.add(T0 + 30 * DAY, "info", "a")
    assert len(closed) == 1 + MAX_EMPTY_WINDOWS
    assert closed[0].start == T0
    # The empty windows emitted are the ones just before the event's window.
    assert closed[-1].end == T0 + 30 * DAY
    assert [w.count for w in closed[1:]] == [0] * MAX_EMPTY_WINDOWS
    starts = [w.start for w in closed[1:]]
    assert starts == [T0 + 30 * DAY - 60 * k for k in range(MAX_EMPTY_WINDOWS, 0, -1)]
    assert logs.add(T0 + 30 * DAY + 61, "info", "a")[0].start == T0 + 30 * DAY


def test_late_events_count_in_the_open_window() -> None:
    logs = LogWindows(window=60.0)
    logs.add(T0 + 10, "info", "a")
    logs.add(T0 + 70, "info", "a")  # closes [T0, T0 + 60)
    assert logs.add(T0 + 20, "error", "late") == []  # belongs to a closed window
    (closed,) = logs.add(T0 + 125, "info", "a")
    assert (closed.start, closed.count, closed.errors) == (T0 + 60, 2, 1)


def test_flush_closes_windows_of_a_silent_entity() -> None:
    logs = LogWindows(window=60.0)
    assert logs.flush(T0) == []  # nothing before the first event
    logs.add(T0 + 10, "error", "a")
    assert logs.flush(T0 + 59) == []
    closed = logs.flush(T0 + 150)
    assert [(w.start - T0, w.count, w.error_ratio) for w in closed] == [(0, 1, 1.0), (60, 0, 0.0)]
    assert logs.flush(T0 + 150) == []
    assert [(w.start - T0, w.count) for w in logs.flush(T0 + 180)] == [(120, 0)]
    (closed_after,) = logs.add(T0 + 250, "info", "b")
    assert (closed_after.start - T0, closed_after.count) == (180, 0)


def test_error_ratio_counts_error_levels() -> None:
    logs = LogWindows(window=10.0)
    for i, level in enumerate(["info", "ERROR", "warn", "fatal", "debug", "crit", None, "info"]):
        logs.add(T0 + i, level, "x")
    (closed,) = logs.flush(T0 + 10)
    assert (closed.count, closed.errors, closed.error_ratio) == (8, 3, 3 / 8)


def test_never_seen_template_is_rare_and_frequent_one_is_not() -> None:
    logs = LogWindows(window=60.0)
    rng = np.random.default_rng(1)
    for i in range(600):  # ten minutes of steady traffic
        ms = int(rng.integers(5, 50))
        logs.add(T0 + i, "info", f"GET /items/{rng.integers(1000)} 200 in {ms} ms")
        if i % 10 == 0:
            logs.add(T0 + i, "info", f"cache hit ratio {rng.random():.2f}")
    for i in range(600, 660):
        logs.add(T0 + i, "info", f"GET /items/{rng.integers(1000)} 200 in 20 ms")
    (steady,) = logs.add(T0 + 661, "error", "disk full on /dev/sda1")
    (burst,) = logs.add(T0 + 721, "info", "GET /items/1 200 in 20 ms")
    assert steady.template_rarity < 0.5
    assert burst.template_rarity > 9.0
    assert burst.new_templates == ["disk full on /dev/sda<num>"]
    assert steady.new_templates == []
    assert logs.rarity(template("GET /items/5 200 in 9 ms")) < 0.5
    assert logs.rarity(template("cache hit ratio 0.93")) < logs.rarity("something else")


def test_a_burst_of_a_new_template_counts_by_its_first_occurrence() -> None:
    logs = LogWindows(window=60.0, half_life=1e12)
    for i in range(300):
        logs.add(T0 + i, "info", "heartbeat ok")
    for i in range(300, 360):
        logs.add(T0 + i, "error", f"timeout after {i} ms")
    (closed,) = logs.add(T0 + 360, "info", "heartbeat ok")
    assert closed.template_rarity == pytest.approx(math.log2(300 + 2))
    assert closed.top_templates == [("timeout after <num> ms", 60)]
    assert closed.error_ratio == 1.0


def test_first_events_of_an_entity_are_not_rare() -> None:
    logs = LogWindows(window=60.0)
    logs.add(T0, "info", "service started")
    (closed,) = logs.add(T0 + 60, "info", "x")
    assert closed.template_rarity == 0.0
    assert closed.new_templates == ["service started"]


def test_template_counts_decay() -> None:
    logs = LogWindows(window=60.0, half_life=DAY)
    for i in range(500):
        logs.add(T0 + i, "info", "old kind of message")
    logs.add(T0 + 600, "info", "new kind of message")
    recent = logs.rarity("old kind of message")
    logs.add(T0 + 600 + 10 * DAY, "info", "new kind of message")
    for i in range(100):
        logs.add(T0 + 10 * DAY + 700 + i, "info", "new kind of message")
    faded = logs.rarity("old kind of message")
    assert recent < 0.1
    assert faded > 1.5
    # After many half-lives the old template is forgotten and counts as new again.
    logs.add(T0 + 30 * DAY, "info", "new kind of message")
    assert "old kind of message" not in logs.to_state()["weights"]
    logs.add(T0 + 30 * DAY + 1, "info", "old kind of message")
    (closed,) = logs.flush(T0 + 31 * DAY)[:1]
    assert "old kind of message" in closed.new_templates


def test_top_templates_keep_three_most_frequent() -> None:
    logs = LogWindows(window=60.0)
    for name, n in [("b", 3), ("a", 3), ("c", 5), ("d", 1)]:
        for i in range(n):
            logs.add(T0 + i, "info", f"msg {name}")
    (closed,) = logs.flush(T0 + 60)
    assert closed.top_templates == [("msg c", 5), ("msg a", 3), ("msg b", 3)]


def test_templates_are_bounded() -> None:
    logs = LogWindows(window=60.0, half_life=1e12, max_templates=8)
    for i in range(100):
        logs.add(T0 + i, "info", "steady")
        logs.add(T0 + i, "info", f"kind-{chr(97 + i % 26)}{chr(97 + i // 26)}")
    state = logs.to_state()
    assert len(state["weights"]) == 8
    assert len(state["window"]) <= 8
    assert len(state["new"]) <= 8
    assert "steady" in state["weights"]
    total = sum(state["weights"].values()) + state["other"]
    assert total == pytest.approx(200.0, abs=1e-3)  # evicted counts stay in "other"


def varied_logs(seed: int, n: int) -> Iterator[tuple[float, str, str]]:
    rng = np.random.default_rng(seed)
    kinds = [
        ("info", "GET /api/v1/items/{} 200 in {} ms"),
        ("info", "POST /api/v1/orders/{} 201 in {} ms"),
        ("warn", "slow query on table orders took {} ms (rows={})"),
        ("error", "timeout after {} ms calling 10.0.{}.7:8080"),
        ("info", "user {} logged in from 192.168.{}.20"),
        ("error", "payment {} declined: code {}"),
        ("info", "cache hit ratio {}.{}"),
        ("debug", "gc pause {} ms heap {}M"),
    ]
    steps = [chr(97 + k % 26) + chr(97 + k // 26) for k in range(30)]
    kinds += [("info", f"job step-{step} finished in {{}} s (batch {{}})") for step in steps]
    t = T0
    for _ in range(n):
        t += float(rng.exponential(2.0))
        if rng.random() < 0.02:  # junk lines that template to something new
            words = rng.choice(["alpha", "beta", "gamma", "delta", "eps", "zeta"], size=5)
            yield t, "info", " ".join(words)
            continue
        level, text = kinds[int(rng.integers(len(kinds)))]
        yield t, level, text.format(rng.integers(10000), rng.integers(100))


def test_state_after_10000_varied_lines_is_compact_and_bounded() -> None:
    logs = LogWindows()
    for ts, level, message in varied_logs(2, 10_000):
        logs.add(ts, level, message)
    state = logs.to_state()
    text = json.dumps(state, separators=(",", ":"))
    assert len(state["weights"]) <= 256
    assert len(text) < 24_000
    assert all(w == round(w, 4) for w in state["weights"].values())


log_strategy = st.tuples(
    st.floats(min_value=-30.0, max_value=400.0),
    st.sampled_from(["info", "error", "warn", None]),
    st.sampled_from(["user 1 in", "user 2 in", "disk full", "timeout 5 ms", "a", "b", "c"]),
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(log_strategy, min_size=1, max_size=40),
    split=st.integers(min_value=0, max_value=40),
    max_templates=st.integers(min_value=1, max_value=4),
)
def test_json_round_trip_mid_stream_gives_identical_windows(
    events: list[tuple[float, str | None, str]], split: int, max_templates: int
) -> None:
    params: dict[str, Any] = {"window": 60.0, "half_life": 600.0, "max_templates": max_templates}
    logs = LogWindows(**params)
    split = min(split, len(events))
    t = T0
    for delta, level, message in events[:split]:
        t += delta
        logs.add(t, level, message)
    copy = LogWindows.from_state(json.loads(json.dumps(logs.to_state())), **params)
    for delta, level, message in events[split:]:
        t += delta
        assert copy.add(t, level, message) == logs.add(t, level, message)
    assert copy.flush(t + 3600) == logs.flush(t + 3600)
    assert copy.to_state() == logs.to_state()
    assert copy.n_learned == logs.n_learned == len(events)


def test_features_order() -> None:
    features = LogWindowFeatures(0.0, 60.0, 6, 3, 0.1, 0.5, 2.5)
    assert (
        FEATURES == LogWindowFeatures.FEATURES == ("event_rate", "error_ratio", "template_rarity")
    )
    assert features.values() == [0.1, 0.5, 2.5]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": 0.0}, "window must be positive, got 0.0"),
        ({"window": "60"}, "window must be a number, got '60'"),
        ({"half_life": -1.0}, "half_life must be positive, got -1.0"),
        ({"half_life": math.nan}, "half_life must be finite, got nan"),
        ({"max_templates": 0}, "max_templates must be an integer >= 1, got 0"),
    ],
)
def test_parameter_validation(params: dict[str, Any], message: str) -> None:
    with pytest.raises(DetectorError, match=f"^{message}$"):
        LogWindows(**params)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ((math.inf, "info", "x"), "ts must be finite, got inf"),
        ((T0, 5, "x"), "level must be a string or None, got 5"),
        ((T0, "info", None), "message must be a string, got None"),
    ],
)
def test_event_validation(event: tuple[Any, ...], message: str) -> None:
    logs = LogWindows()
    with pytest.raises(DetectorError, match=f"^{message}$"):
        logs.add(*event)
    assert logs.n_learned == 0
    assert logs.to_state()["start"] is None


def test_flush_validation() -> None:
    with pytest.raises(DetectorError, match="^now_ts must be finite, got nan$"):
        LogWindows().flush(math.nan)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"errors": 5}, "log_windows state errors must not exceed count"),
        ({"weights": {"a": -1.0}}, "log_windows state weights must not be negative"),
        ({"weights": [1]}, "log_windows state weights must map templates to numbers"),
        ({"new": "a"}, "log_windows state new must be a list of templates"),
        ({"start": "x"}, "log_windows state start must be a number, got 'x'"),
    ],
)
def test_bad_state_raises_detector_error(change: dict[str, Any], message: str) -> None:
    logs = LogWindows()
    logs.add(T0, "error", "a")
    state = {**logs.to_state(), **change}
    with pytest.raises(DetectorError, match=f"^{message}$"):
        LogWindows.from_state(state)


def test_lowered_max_templates_applies_on_restore() -> None:
    logs = LogWindows()
    for i in range(20):
        logs.add(T0 + i, "info", f"kind {chr(97 + i)}")
    small = LogWindows.from_state(logs.to_state(), max_templates=3)
    assert len(small.to_state()["weights"]) == 3
