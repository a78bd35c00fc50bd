"""Graph rarity: how unusual a behaviour event is for the entity (user, service) that made it.

One :class:`GraphRarity` holds the graph of ONE entity. Each event
``(ts, action, target, attributes)`` adds up to three kinds of weighted edges:

- ``transition``: the previous action -> this action (no edge on the entity's first event);
- ``target``: the entity itself (source ``"entity"``) -> ``target``;
- ``attribute``: ``"attr:<key>"`` -> the attribute's value, one edge per attribute.

Weights decay exponentially in event time with a half-life, and every source is a small
categorical distribution over its destinations, smoothed with a symmetric Dirichlet prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

from detectors._checks import require_finite, require_int, require_positive, state_field
from detectors.base import DetectorError
from detectors.graph_edges import EdgeKind, EdgeScore, RarityResult

#: Weights are kept rounded to this many decimals (1e-4 of an event), also in memory, so
#: :meth:`GraphRarity.to_state` is exact and a restored graph scores like the original.
WEIGHT_DECIMALS = 4
#: A destination whose decayed weight falls below this (in events) is forgotten (its weight
#: moves to the source's "other" bucket); a source whose total falls below it is dropped.
FORGET_BELOW = 0.01
#: Node names (actions, targets, attribute keys and values) are cut to this many characters.
MAX_NAME_CHARS = 120
#: Recommended alert threshold on :attr:`RarityResult.score`, in bits (see GraphRarity).
DEFAULT_THRESHOLD = 5.0

_CODES: dict[EdgeKind, str] = {"transition": "t", "target": "e", "attribute": "a"}
_KINDS: dict[str, EdgeKind] = {code: kind for kind, code in _CODES.items()}
_OWNER = "graph_rarity"


class _Source:
    """Decayed weights of one source's destinations, all referring to time ``t``."""

    __slots__ = ("dst", "other", "t", "total")

    def __init__(self, t: float, other: float, dst: dict[str, float]) -> None:
        self.t = t
        self.other = other
        self.dst = dst
        self.total = _q(sum(dst.values()) + other)


def _q(weight: float) -> float:
    return round(weight, WEIGHT_DECIMALS)


def _name(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise DetectorError(f"{field} must be a string, got {value!r}")
    if not value:
        raise DetectorError(f"{field} must not be empty")
    return value[:MAX_NAME_CHARS]


class GraphRarity:
    """Per-entity decaying behaviour graph that scores how surprising each edge of an event is.

    **Weights.** Every edge weight decays in event time, ``w <- w * 2**(-(t - t_last) /
    half_life)``, then the event adds 1 to each of its edges. ``W(src)`` is the source's
    total decayed weight (its "number of recent events") and ``K(src)`` its number of
    distinct remembered destinations.

    **Surprise.** With additive (Dirichlet) smoothing,
    ``p(dst | src) = (w(src, dst) + alpha) / (W(src) + alpha * (K(src) + 1))`` (the ``+ 1`` is
    the mass kept for a destination never seen), and ``surprise = -log2 p``.

    **Edge score.** ``score = (1 - exp(-W / min_history)) * max(0, surprise - H(src))`` where
    ``H(src)`` is the entropy, in bits, of the source's smoothed distribution (its destinations,
    the "new" outcome and the "other" bucket): the surprise *expected* from that source. Both
    corrections are used because they fix different things:

    - the entropy term makes scores comparable between entities: a user who visits twenty
      pages evenly has ``H`` near ``log2(20)`` and a new page costs little more than usual,
      while a user who always opens the same page has ``H`` near 0, so a new page scores its
      full surprise;
    - the confidence factor says how much evidence the source has: 0 for an unseen source
      (a new user's first steps score 0), 0.63 after ``min_history`` events, ~1 after three
      times that. Because weights decay, a source not used for a while loses confidence too.

    Without the entropy term a diverse user scores above a habitual one on every new page;
    without the confidence factor a source seen twice could still score a few bits.

    **Threshold.** Scores are bits, the same unit for every entity, so one threshold serves
    all; :data:`DEFAULT_THRESHOLD` = 5 bits is recommended: for a habitual source (``H`` ~ 0)
    it flags an edge of smoothed probability below 1/32, which for a brand-new destination
    needs about 30 recent events of history (``W + alpha * (K + 1) >= 32``). Lower it (4 bits)
    for entities with little activity per half-life, raise it for noisy sources.

    **Bounds.** A source keeps at most ``max_edges_per_source`` destinations: when a new one
    comes in, the lightest other destination is evicted and its weight folded into the
    source's "other" bucket, so ``W(src)`` stays right (an evicted destination scores as new).
    A destination whose weight decays below :data:`FORGET_BELOW` is folded the same way; a
    source whose total decays below it is dropped; at most ``max_sources`` sources are kept
    (the lightest source not in the current event is dropped). Names are cut to
    :data:`MAX_NAME_CHARS` characters. Weights are kept at :data:`WEIGHT_DECIMALS` decimals.

    **Time.** An event older than a source's last update decays nothing (the clock of a source
    never goes back). The transition uses the previously *learned* action, in arrival order.

    Parameters
    ----------
    half_life
        Seconds after which a weight counts half (default 7 days).
    alpha
        Dirichlet pseudo-count per destination (default 1).
    min_history
        Source weight, in events, at which confidence reaches 1 - 1/e (default 5).
    max_edges_per_source
        Destinations remembered per source, at least 1 (default 32).
    max_sources
        Sources remembered per entity, at least 1 (default 32).

    Examples
    --------
    An established user: 40 logins in a day from France, always followed by the dashboard.

    >>> day = 86400.0
    >>> user = GraphRarity()
    >>> t = 1795766400.0
    >>> for i in range(40):
    ...     user.learn_event(t + i * 600, "login", attributes={"country": "FR"})
    ...     user.learn_event(t + i * 600 + 5, "dashboard", target="/dashboard")
    >>> t = t + 40 * 600
    >>> user.learn_event(t, "login", attributes={"country": "FR"})
    >>> user.score_event(t + 5, "dashboard", target="/dashboard").score
    0.0
    >>> odd = user.score_event(t + 5, "export_users", target="/admin")
    >>> round(odd.score, 2)
    5.21
    >>> [e.describe() for e in odd.edges]
    ['new transition login -> export_users (never seen in 39 events)', 'new target /admin (never seen in 39 events)']
    >>> user.learn_event(t + 5, "dashboard", target="/dashboard")
    >>> travel = user.score_event(t + 600, "login", attributes={"country": "KP"})
    >>> round(travel.score, 2), travel.edges[0].describe()
    (5.24, 'new country KP (never seen in 40 events)')

    A new user's first steps score (almost) nothing:

    >>> new = GraphRarity()
    >>> new.score_event(t, "login", target="/").score
    0.0
    >>> new.learn_event(t, "login", target="/")
    >>> round(new.score_event(t + 5, "export_users", target="/admin").score, 2)
    0.12

    Habits fade. The same established user, back after ten weeks (ten half-lives), counts
    as new again: the odd step now scores nothing.

    >>> round(user.score_event(t + 70 * day, "export_users", target="/admin").score, 2)
    0.0

    A faded habit is mildly surprising when it returns: 40 days of the dashboard (four visits
    a day), then three weeks of reports, then the dashboard again scores between the current
    habit and a page never seen.

    >>> user = GraphRarity()
    >>> for d in range(61):
    ...     page = "/dashboard" if d < 40 else "/reports"
    ...     for hour in range(4):
    ...         user.learn_event(t + d * day + hour * 3600, "view", target=page)
    >>> now = t + 61 * day
    >>> [round(user.score_event(now, "view", target=page).score, 2)
    ...  for page in ["/reports", "/dashboard", "/admin"]]
    [0.0, 2.12, 4.64]
    >>> user.score_event(now, "view", target="/dashboard").edges[0].describe()
    'target /dashboard seen in 12% of 39 events'
    """

    def __init__(
        self,
        half_life: float = 604800.0,
        alpha: float = 1.0,
        min_history: float = 5.0,
        max_edges_per_source: int = 32,
        max_sources: int = 32,
    ) -> None:
        self.half_life = require_positive("half_life", half_life)
        self.alpha = require_positive("alpha", alpha)
        self.min_history = require_positive("min_history", min_history)
        self.max_edges_per_source = require_int("max_edges_per_source", max_edges_per_source, 1)
        self.max_sources = require_int("max_sources", max_sources, 1)
        self._sources: dict[tuple[str, str], _Source] = {}
        self._previous: str | None = None
        self._n_learned = 0

    @property
    def n_learned(self) -> int:
        """Number of events learned."""
        return self._n_learned

    def _factor(self, source: _Source, ts: float) -> float:
        return float(0.5 ** (max(0.0, ts - source.t) / self.half_life))

    def _edges(
        self, action: object, target: object, attributes: object
    ) -> list[tuple[tuple[str, str], str]]:
        """``((code, source name), destination)`` of each edge of an event, in kind order."""
        edges: list[tuple[tuple[str, str], str]] = []
        act = _name("action", action)
        if self._previous is not None:
            edges.append(((_CODES["transition"], self._previous), act))
        if target is not None:
            edges.append(((_CODES["target"], "entity"), _name("target", target)))
        if attributes is None:
            return edges
        if not isinstance(attributes, Mapping):
            raise DetectorError(
                f"attributes must be a mapping of names to values, got {attributes!r}"
            )
        for key, value in attributes.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise DetectorError(
                    f"attributes[{key!r}] must be a string or a number, got {value!r}"
                )
            name = _name(f"attributes key {key!r}", key)
            edges.append(((_CODES["attribute"], name), _name(f"attributes[{key!r}]", str(value))))
        return edges

    def score_event(
        self,
        ts: float,
        action: str,
        target: str | None = None,
        attributes: Mapping[str, str | int | float | None] | None = None,
    ) -> RarityResult:
        """Score an event against the graph learned so far, without learning it.

        ``attributes`` values are compared as strings; a ``None`` value is an absent attribute.
        """
        when = require_finite("ts", ts)
        scored = [
            self._score_edge(key, dst, when) for key, dst in self._edges(action, target, attributes)
        ]
        scored.sort(key=lambda edge: -edge.score)
        return RarityResult(max((e.score for e in scored), default=0.0), scored)

    def _score_edge(self, key: tuple[str, str], dst: str, ts: float) -> EdgeScore:
        code, name = key
        kind = _KINDS[code]
        label = f"attr:{name}" if kind == "attribute" else name
        source = self._sources.get(key)
        if source is None:
            return EdgeScore(kind, label, dst, 0.0, 0.0, 0.0)
        factor = self._factor(source, ts)
        alpha = self.alpha
        total = source.total * factor
        weight = source.dst.get(dst, 0.0) * factor
        norm = total + alpha * (len(source.dst) + 1)
        surprise = -math.log2((weight + alpha) / norm)
        probs = [(w * factor + alpha) / norm for w in source.dst.values()]
        probs.append(alpha / norm)
        if source.other > 0.0:
            probs.append(source.other * factor / norm)
        entropy = -sum(p * math.log2(p) for p in probs if p > 0.0)
        confidence = 1.0 - math.exp(-total / self.min_history)
        score = confidence * max(0.0, surprise - entropy)
        return EdgeScore(kind, label, dst, score, weight, total)

    def learn_event(
        self,
        ts: float,
        action: str,
        target: str | None = None,
        attributes: Mapping[str, str | int | float | None] | None = None,
    ) -> None:
        """Decay the event's sources to ``ts`` and add 1 to each of its edges."""
        when = require_finite("ts", ts)
        edges = self._edges(action, target, attributes)
        for key, dst in edges:
            self._add(key, dst, when)
        self._previous = _name("action", action)
        self._n_learned += 1
        self._prune(when, {key for key, _ in edges})

    def _add(self, key: tuple[str, str], dst: str, ts: float) -> None:
        source = self._sources.get(key)
        if source is None:
            self._sources[key] = _Source(ts, 0.0, {dst: 1.0})
            return
        factor = self._factor(source, ts)
        other = source.other * factor
        kept: dict[str, float] = {}
        for name, weight in source.dst.items():
            decayed = _q(weight * factor)
            if decayed < FORGET_BELOW and name != dst:
                other += decayed
            else:
                kept[name] = decayed
        kept[dst] = _q(kept.get(dst, 0.0) + 1.0)
        while len(kept) > self.max_edges_per_source:
            lightest = min((w, n) for n, w in kept.items() if n != dst)[1]
            other += kept.pop(lightest)
        self._sources[key] = _Source(max(source.t, ts), _q(other), kept)

    def _prune(self, ts: float, touched: set[tuple[str, str]]) -> None:
        faded = [
            key
            for key, source in self._sources.items()
            if key not in touched and source.total * self._factor(source, ts) < FORGET_BELOW
        ]
        for key in faded:
            del self._sources[key]
        self._cap_sources(ts, touched)

    def _cap_sources(self, ts: float, touched: set[tuple[str, str]]) -> None:
        while len(self._sources) > self.max_sources:
            lightest = min(
                (key in touched, source.total * self._factor(source, ts), key)
                for key, source in self._sources.items()
            )[2]
            del self._sources[lightest]

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable learned state, exact (weights are kept at 4 decimals).

        ``{"n": events learned, "prev": last action or None, "src": [[code, name, t, other,
        {destination: weight}], ...]}`` with code ``t`` (transition, name = previous action),
        ``e`` (entity -> target) or ``a`` (attribute, name = key), and weights as of time ``t``.

        Examples
        --------
        >>> g = GraphRarity()
        >>> g.learn_event(0.0, "login", target="/", attributes={"device": "ios"})
        >>> g.learn_event(604800.0, "logout", target="/")
        >>> g.to_state()
        {'n': 2, 'prev': 'logout', 'src': [['e', 'entity', 604800.0, 0.0, {'/': 1.5}], ['a', 'device', 0.0, 0.0, {'ios': 1.0}], ['t', 'login', 604800.0, 0.0, {'logout': 1.0}]]}
        """
        return {
            "n": self._n_learned,
            "prev": self._previous,
            "src": [
                [code, name, source.t, source.other, dict(source.dst)]
                for (code, name), source in self._sources.items()
            ],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **params: Any) -> Self:
        """Rebuild from a :meth:`to_state` dict and the constructor parameters.

        If ``max_edges_per_source`` or ``max_sources`` was lowered, the lightest entries are
        evicted as in learning.

        Examples
        --------
        >>> g = GraphRarity.from_state({"n": 1, "prev": "login", "src": []}, half_life=3600.0)
        >>> g.n_learned, g.half_life
        (1, 3600.0)
        >>> GraphRarity.from_state({"n": 1, "prev": None, "src": [["x", "a", 0, 0, {}]]})
        Traceback (most recent call last):
        ...
        detectors.base.DetectorError: graph_rarity state src[0] must be [code, name, t, other, {destination: weight}] with code t, e or a
        """
        graph = cls(**params)
        graph._n_learned = require_int(f"{_OWNER} state n", state_field(state, "n", _OWNER), 0)
        previous = state_field(state, "prev", _OWNER)
        graph._previous = None if previous is None else _name(f"{_OWNER} state prev", previous)
        sources = state_field(state, "src", _OWNER)
        if not isinstance(sources, list):
            raise DetectorError(f"{_OWNER} state src must be a list, got {sources!r}")
        latest = -math.inf
        for i, item in enumerate(sources):
            where = f"{_OWNER} state src[{i}]"
            if (
                not isinstance(item, list)
                or len(item) != 5
                or item[0] not in _KINDS
                or not isinstance(item[4], Mapping)
            ):
                raise DetectorError(
                    f"{where} must be [code, name, t, other, {{destination: weight}}] "
                    "with code t, e or a"
                )
            code, name, t, other, dst = item
            weights = {
                _name(f"{where} destination", d): _q(require_finite(f"{where}[{d!r}]", w))
                for d, w in dst.items()
            }
            rest = _q(require_finite(f"{where} other", other))
            if rest < 0 or any(w < 0 for w in weights.values()):
                raise DetectorError(f"{where} weights must not be negative")
            source = _Source(require_finite(f"{where} t", t), rest, weights)
            graph._sources[(code, _name(f"{where} name", name))] = source
            latest = max(latest, source.t)
        for key, source in list(graph._sources.items()):
            while len(source.dst) > graph.max_edges_per_source:
                lightest = min((w, n) for n, w in source.dst.items())[1]
                source.other = _q(source.other + source.dst.pop(lightest))
            graph._sources[key] = _Source(source.t, source.other, source.dst)
        graph._cap_sources(latest, set())
        return graph
