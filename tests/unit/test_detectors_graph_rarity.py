"""GraphRarity: rare edges of established users score high, new users and faded habits low."""

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
from detectors.graph_rarity import (
    DEFAULT_THRESHOLD,
    FORGET_BELOW,
    MAX_NAME_CHARS,
    EdgeScore,
    GraphRarity,
)

T0 = 1795766400.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY

Event = tuple[float, str, str | None, dict[str, str] | None]


def habitual_user(seed: int, days: int = 20, per_day: int = 12) -> Iterator[Event]:
    """An office user: login, then mostly the dashboard, sometimes reports, always from FR."""
    rng = np.random.default_rng(seed)
    pages = ["/dashboard", "/reports", "/settings"]
    for d in range(days):
        t = T0 + d * DAY + 8 * HOUR
        yield t, "login", "/", {"country": "FR", "device": "laptop"}
        for _ in range(per_day - 1):
            t += float(rng.exponential(HOUR / 2))
            page = str(rng.choice(pages, p=[0.8, 0.15, 0.05]))
            yield t, "view", page, {"country": "FR", "device": "laptop"}


def diverse_user(seed: int, days: int = 20, per_day: int = 12) -> Iterator[Event]:
    """A support agent: twenty pages visited evenly, two devices."""
    rng = np.random.default_rng(seed)
    pages = [f"/tickets/queue-{i}" for i in range(20)]
    for d in range(days):
        t = T0 + d * DAY + 8 * HOUR
        for _ in range(per_day):
            t += float(rng.exponential(HOUR / 2))
            device = str(rng.choice(["laptop", "phone"]))
            yield t, "view", str(rng.choice(pages)), {"country": "DE", "device": device}


def learned(events: Iterator[Event], **params: Any) -> tuple[GraphRarity, float]:
    graph = GraphRarity(**params)
    t = T0
    for t, action, target, attributes in events:
        graph.learn_event(t, action, target=target, attributes=attributes)
    return graph, t


def test_new_edge_of_an_established_user_scores_above_the_threshold() -> None:
    graph, t = learned(habitual_user(1))
    usual = graph.score_event(t + 60, "view", "/dashboard", {"country": "FR", "device": "laptop"})
    admin = graph.score_event(t + 60, "view", "/admin", {"country": "FR", "device": "laptop"})
    abroad = graph.score_event(t + 60, "view", "/dashboard", {"country": "KP", "device": "laptop"})
    assert usual.score < 1.0
    assert admin.score > DEFAULT_THRESHOLD
    assert abroad.score > DEFAULT_THRESHOLD
    assert admin.edges[0].kind == "target"
    assert admin.edges[0].describe().startswith("new target /admin (never seen in ")
    assert abroad.edges[0].describe().startswith("new country KP (never seen in ")


def test_normal_behaviour_rarely_crosses_the_threshold() -> None:
    graph = GraphRarity()
    scores = []
    for t, action, target, attributes in habitual_user(2, days=30):
        scores.append(graph.score_event(t, action, target, attributes).score)
        graph.learn_event(t, action, target=target, attributes=attributes)
    later = scores[len(scores) // 3 :]
    assert sum(s > DEFAULT_THRESHOLD for s in later) / len(later) < 0.01


def test_new_users_first_steps_do_not_score_high() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        graph = GraphRarity()
        t = T0
        for step in range(5):
            t += float(rng.exponential(60.0))
            action = f"action-{rng.integers(4)}"
            target = f"/page/{rng.integers(10)}"
            attributes = {"country": str(rng.choice(["FR", "US", "BR"]))}
            result = graph.score_event(t, action, target, attributes)
            assert result.score < 2.0, (step, result)
            graph.learn_event(t, action, target=target, attributes=attributes)


def test_score_follows_the_documented_formula() -> None:
    graph = GraphRarity(alpha=1.0, min_history=5.0)
    for _ in range(5):
        graph.learn_event(T0, "view", target="/a")
    edge = next(e for e in graph.score_event(T0, "view", "/b").edges if e.kind == "target")
    # W = 5, K = 1: p(/b) = 1 / 7; the smoothed distribution is (6/7, 1/7).
    surprise = math.log2(7)
    entropy = -(6 / 7) * math.log2(6 / 7) - (1 / 7) * math.log2(1 / 7)
    confidence = 1 - math.exp(-1)
    assert edge.score == pytest.approx(confidence * (surprise - entropy), rel=1e-12)
    assert (edge.weight, edge.source_weight) == (0.0, 5.0)


def test_first_event_of_an_unknown_entity_scores_zero() -> None:
    result = GraphRarity().score_event(T0, "login", "/admin", {"country": "KP"})
    assert result.score == 0.0
    assert [(e.kind, e.source, e.destination) for e in result.edges] == [
        ("target", "entity", "/admin"),
        ("attribute", "attr:country", "KP"),
    ]


def test_same_threshold_works_for_habitual_and_diverse_users() -> None:
    habitual, t1 = learned(habitual_user(4))
    diverse, t2 = learned(diverse_user(4))
    attributes = {"country": "FR", "device": "laptop"}
    new_for_habitual = habitual.score_event(t1 + 60, "view", "/billing", attributes).score
    new_for_diverse = diverse.score_event(
        t2 + 60, "view", "/billing", {"country": "DE", "device": "laptop"}
    ).score
    # A new page is routine for a user who browses twenty pages evenly.
    assert new_for_diverse < DEFAULT_THRESHOLD < new_for_habitual
    assert new_for_diverse < new_for_habitual - 2.0


def test_a_decayed_source_counts_as_less_established() -> None:
    graph, t = learned(habitual_user(5))
    attributes = {"country": "FR", "device": "laptop"}
    scores = [
        graph.score_event(t + k * WEEK, "view", "/admin", attributes).score for k in range(0, 12, 2)
    ]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > DEFAULT_THRESHOLD
    assert scores[-1] < 1.0
    edge = graph.score_event(t + 10 * WEEK, "view", "/admin", attributes).edges[0]
    first = graph.score_event(t, "view", "/admin", attributes).edges[0]
    assert edge.source_weight == pytest.approx(first.source_weight / 2**10)


def test_returning_to_a_faded_habit_is_mildly_surprising() -> None:
    graph = GraphRarity()
    t = T0
    for d in range(60):
        page = "/dashboard" if d < 30 else "/reports"
        for k in range(6):
            t = T0 + d * DAY + k * HOUR
            graph.learn_event(t, "view", target=page)
    now = t + HOUR
    current = graph.score_event(now, "view", "/reports").score
    faded = graph.score_event(now, "view", "/dashboard")
    never = graph.score_event(now, "view", "/admin").score
    assert current < 0.5
    assert 1.0 < faded.score < never - 1.0
    assert faded.edges[0].weight > 0.0
    assert "seen in" in faded.edges[0].describe()


def test_an_edge_forgotten_long_ago_scores_like_a_new_one() -> None:
    graph = GraphRarity(half_life=DAY)
    graph.learn_event(T0, "view", target="/old")
    t = T0
    for k in range(1, 400):  # the /old edge decays below FORGET_BELOW after ~6.6 days
        t = T0 + k * HOUR
        graph.learn_event(t, "view", target="/dashboard")
    old = graph.score_event(t + 1, "view", "/old")
    new = graph.score_event(t + 1, "view", "/new")
    assert old.edges[0].weight == 0.0
    assert old.score == new.score > DEFAULT_THRESHOLD


def test_score_does_not_learn_and_learn_counts_events() -> None:
    graph, t = learned(habitual_user(6, days=3))
    before = graph.to_state()
    graph.score_event(t + 1, "view", "/admin", {"country": "KP"})
    assert graph.to_state() == before
    assert graph.n_learned == 36


def test_edges_are_ranked_by_score() -> None:
    graph, t = learned(habitual_user(7))
    result = graph.score_event(t + 60, "export", "/admin", {"country": "FR", "device": "phone"})
    assert [e.score for e in result.edges] == sorted((e.score for e in result.edges), reverse=True)
    assert result.score == result.edges[0].score
    assert {e.kind for e in result.edges} == {"transition", "target", "attribute"}


def test_target_and_attributes_are_optional() -> None:
    graph = GraphRarity()
    graph.learn_event(T0, "login")
    result = graph.score_event(T0 + 1, "logout")
    assert [(e.kind, e.source, e.destination) for e in result.edges] == [
        ("transition", "login", "logout")
    ]
    assert GraphRarity().score_event(T0, "login").edges == []
    assert GraphRarity().score_event(T0, "login").score == 0.0


def test_attribute_values_are_compared_as_strings_and_none_is_absent() -> None:
    graph = GraphRarity()
    for k in range(40):
        graph.learn_event(T0 + k, "call", attributes={"status": 200, "region": None})
    result = graph.score_event(T0 + 41, "call", attributes={"status": "200", "region": "eu"})
    by_source = {e.source: e for e in result.edges}
    assert by_source["attr:status"].score == 0.0
    assert by_source["attr:region"].score == 0.0  # never seen before: no history
    assert by_source["attr:region"].source_weight == 0.0


def test_describe_sentences() -> None:
    assert (
        EdgeScore("transition", "login", "/admin", 6.0, 0.0, 40.4).describe()
        == "new transition login -> /admin (never seen in 40 events)"
    )
    assert (
        EdgeScore("attribute", "attr:country", "FR", 4.0, 1.0, 51.0).describe()
        == "country FR seen in 2% of 51 events"
    )
    assert (
        EdgeScore("target", "entity", "/x", 9.0, 0.1, 400.0).describe()
        == "target /x seen in <1% of 400 events"
    )


def test_edges_per_source_are_bounded_and_total_weight_is_kept() -> None:
    graph = GraphRarity(half_life=1e12, max_edges_per_source=4)
    for k in range(50):
        graph.learn_event(T0 + k, "view", target=f"/page/{k % 10}")
    state = graph.to_state()
    for _code, _name, _t, _other, destinations in state["src"]:
        assert len(destinations) <= 4
    edges = graph.score_event(T0 + 60, "view", "/page/3").edges
    edge = next(e for e in edges if e.kind == "target")
    assert edge.source_weight == pytest.approx(50.0, abs=1e-3)
    # The newest destination got in: the evicted ones were the lightest others.
    targets = next(item for item in state["src"] if item[0] == "e")
    assert "/page/9" in targets[4]
    assert targets[3] == pytest.approx(50.0 - sum(targets[4].values()), abs=1e-3)


def test_a_new_habit_gets_into_a_full_source() -> None:
    graph = GraphRarity(max_edges_per_source=2)
    for k in range(40):
        graph.learn_event(T0 + k, "view", target="/a" if k % 2 else "/b")
    for k in range(5):
        graph.learn_event(T0 + 40 + k, "view", target="/c")
    edge = next(e for e in graph.score_event(T0 + 50, "view", "/c").edges if e.kind == "target")
    assert edge.weight == pytest.approx(5.0, abs=1e-3)
    assert edge.describe() == "target /c seen in 11% of 45 events"


def test_sources_are_bounded_and_faded_sources_dropped() -> None:
    graph = GraphRarity(max_sources=3)
    for k in range(20):
        graph.learn_event(T0 + k, f"action-{k}", attributes={"a": "x", "b": "y"})
    state = graph.to_state()
    assert len(state["src"]) == 3
    # The event's own sources are kept over older ones.
    assert {(code, name) for code, name, *_ in state["src"]} == {
        ("a", "a"),
        ("a", "b"),
        ("t", "action-18"),
    }
    graph = GraphRarity(half_life=HOUR)
    graph.learn_event(T0, "login", attributes={"device": "ios"})
    fade = HOUR * math.log2(1 / FORGET_BELOW) + 1
    graph.learn_event(T0 + fade, "logout")
    assert [(code, name) for code, name, *_ in graph.to_state()["src"]] == [("t", "login")]


def test_long_names_are_cut() -> None:
    graph = GraphRarity()
    graph.learn_event(T0, "login", target="/" + "x" * 1000)
    target = graph.to_state()["src"][0][4]
    assert [len(name) for name in target] == [MAX_NAME_CHARS]


def varied_user(seed: int, n: int) -> Iterator[Event]:
    rng = np.random.default_rng(seed)
    actions = ["login", "view", "search", "edit", "save", "share", "comment", "logout"]
    targets = [f"/projects/{p}/{s}" for p in range(6) for s in ["board", "files", "wiki"]]
    weights = 1 / np.arange(1, len(targets) + 1)
    t = T0
    for _ in range(n):
        t += float(rng.exponential(HOUR))
        yield (
            t,
            str(rng.choice(actions)),
            str(rng.choice(targets, p=weights / weights.sum())),
            {
                "country": str(rng.choice(["FR", "FR", "FR", "DE", "ES"])),
                "device": str(rng.choice(["ios", "android", "web"])),
                "browser": str(rng.choice(["firefox", "chrome", "safari"])),
            },
        )


def test_state_of_200_varied_events_stays_under_4_kb() -> None:
    graph, _ = learned(varied_user(8, 200))
    state = graph.to_state()
    text = json.dumps(state, separators=(",", ":"))
    assert len(text) < 4096
    weights = [w for item in state["src"] for w in [item[3], *item[4].values()]]
    assert all(w == round(w, 4) for w in weights)  # the documented precision


def test_state_is_bounded_whatever_the_input() -> None:
    graph = GraphRarity(max_edges_per_source=8, max_sources=8)
    rng = np.random.default_rng(9)
    for k in range(2000):
        graph.learn_event(
            T0 + k,
            f"a{rng.integers(1000)}",
            target=f"/t/{rng.integers(10**6)}",
            attributes={f"k{rng.integers(50)}": str(rng.integers(10**6))},
        )
    state = graph.to_state()
    assert len(state["src"]) <= 8
    assert all(len(item[4]) <= 8 for item in state["src"])


event_strategy = st.tuples(
    st.floats(min_value=-2 * DAY, max_value=3 * WEEK),
    st.sampled_from(["login", "view", "edit", "logout"]),
    st.one_of(st.none(), st.sampled_from(["/", "/a", "/b", "/c", "/d"])),
    st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(["country", "device"]), st.sampled_from(["x", "y", "z"])),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(event_strategy, min_size=2, max_size=40),
    split=st.integers(min_value=0, max_value=40),
    max_edges=st.integers(min_value=1, max_value=4),
)
def test_json_round_trip_mid_stream_gives_identical_scores(
    events: list[tuple[float, str, str | None, dict[str, str] | None]], split: int, max_edges: int
) -> None:
    params: dict[str, Any] = {"half_life": DAY, "max_edges_per_source": max_edges, "max_sources": 4}
    graph = GraphRarity(**params)
    split = min(split, len(events))
    t = T0
    for delta, action, target, attributes in events[:split]:
        t += delta
        graph.learn_event(t, action, target=target, attributes=attributes)
    copy = GraphRarity.from_state(json.loads(json.dumps(graph.to_state())), **params)
    for delta, action, target, attributes in events[split:]:
        t += delta
        assert copy.score_event(t, action, target, attributes) == graph.score_event(
            t, action, target, attributes
        )
        copy.learn_event(t, action, target=target, attributes=attributes)
        graph.learn_event(t, action, target=target, attributes=attributes)
    assert copy.to_state() == graph.to_state()
    assert copy.n_learned == graph.n_learned


def test_an_old_event_does_not_turn_the_clock_back() -> None:
    graph = GraphRarity(half_life=DAY)
    graph.learn_event(T0 + DAY, "view", target="/a")
    graph.learn_event(T0, "view", target="/a")  # one day late
    source = next(item for item in graph.to_state()["src"] if item[0] == "e")
    assert source[2] == T0 + DAY
    assert source[4] == {"/a": 2.0}


def test_lowered_bounds_apply_on_restore() -> None:
    graph, _ = learned(varied_user(10, 200))
    small = GraphRarity.from_state(graph.to_state(), max_edges_per_source=2, max_sources=2)
    state = small.to_state()
    assert len(state["src"]) == 2
    assert all(len(item[4]) <= 2 for item in state["src"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"half_life": 0.0}, "half_life must be positive, got 0.0"),
        ({"half_life": math.inf}, "half_life must be finite, got inf"),
        ({"alpha": -1.0}, "alpha must be positive, got -1.0"),
        ({"alpha": "1"}, "alpha must be a number, got '1'"),
        ({"min_history": 0}, "min_history must be positive, got 0.0"),
        ({"max_edges_per_source": 0}, "max_edges_per_source must be an integer >= 1, got 0"),
        ({"max_edges_per_source": 2.5}, "max_edges_per_source must be an integer >= 1, got 2.5"),
        ({"max_sources": True}, "max_sources must be an integer >= 1, got True"),
    ],
)
def test_parameter_validation(params: dict[str, Any], message: str) -> None:
    with pytest.raises(DetectorError, match=f"^{message}$"):
        GraphRarity(**params)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ((math.nan, "login"), "ts must be finite, got nan"),
        ((T0, ""), "action must not be empty"),
        ((T0, 3), "action must be a string, got 3"),
        ((T0, "login", 7), "target must be a string, got 7"),
        (
            (T0, "login", None, ["x"]),
            r"attributes must be a mapping of names to values, got \['x'\]",
        ),
        (
            (T0, "login", None, {"c": [1]}),
            r"attributes\['c'\] must be a string or a number, got \[1\]",
        ),
        (
            (T0, "login", None, {"c": True}),
            r"attributes\['c'\] must be a string or a number, got True",
        ),
    ],
)
def test_event_validation(event: tuple[Any, ...], message: str) -> None:
    graph = GraphRarity()
    with pytest.raises(DetectorError, match=f"^{message}$"):
        graph.score_event(*event)
    with pytest.raises(DetectorError, match=f"^{message}$"):
        graph.learn_event(*event)
    assert graph.n_learned == 0


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"prev": None, "src": []}, "graph_rarity state has no field 'n'"),
        ({"n": 1, "prev": None, "src": {}}, "graph_rarity state src must be a list, got {}"),
        (
            {"n": 1, "prev": None, "src": [["e", "entity", 0.0, -1.0, {}]]},
            r"graph_rarity state src\[0\] weights must not be negative",
        ),
        (
            {"n": 1, "prev": None, "src": [["e", "entity", 0.0, 0.0, {"/": math.nan}]]},
            r"graph_rarity state src\[0\]\['/'\] must be finite, got nan",
        ),
    ],
)
def test_bad_state_raises_detector_error(state: dict[str, Any], message: str) -> None:
    with pytest.raises(DetectorError, match=f"^{message}$"):
        GraphRarity.from_state(state)
