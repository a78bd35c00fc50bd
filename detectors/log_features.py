"""Log features: message templates and per-entity tumbling windows of numeric log features.

:func:`detectors.log_templates.template` masks the variable parts of a log message so that
messages of the same kind share a template. :class:`LogWindows` turns one entity's log events
into one :class:`LogWindowFeatures` per closed window, whose :meth:`~LogWindowFeatures.values`
the engine scores with its numeric detectors (z-score, EWMA, MAD).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from detectors._checks import require_finite, require_int, require_positive, state_field
from detectors.base import DetectorError
from detectors.log_templates import is_error_level, template

#: Names of :meth:`LogWindowFeatures.values`, in order.
FEATURES = ("event_rate", "error_ratio", "template_rarity")
#: At most this many empty windows are emitted by one call, after the window that closed.
MAX_EMPTY_WINDOWS = 60
#: Dirichlet pseudo-count of the template frequencies (see :class:`LogWindows`).
RARITY_ALPHA = 1.0
#: Template weights are kept at this many decimals, so to_state is exact.
WEIGHT_DECIMALS = 4
#: A template whose decayed weight falls below this (in events) is forgotten.
FORGET_BELOW = 0.01


@dataclass(frozen=True)
class LogWindowFeatures:
    """Features of one closed window ``[start, end)`` of one entity's logs.

    Attributes
    ----------
    start, end
        Window bounds, event-time seconds.
    count, errors
        Events in the window, and how many had an error level.
    event_rate
        ``count / (end - start)``, events per second.
    error_ratio
        ``errors / count``; 0.0 for an empty window.
    template_rarity
        Largest rarity, in bits, of the window's events (see :class:`LogWindows`); 0.0 when
        empty.
    top_templates
        Up to 3 ``(template, count)``, most frequent first (ties by template).
    new_templates
        Templates first seen (or seen again after being forgotten) in this window, in order of
        arrival.
    """

    FEATURES: ClassVar[tuple[str, ...]] = FEATURES

    start: float
    end: float
    count: int
    errors: int
    event_rate: float
    error_ratio: float
    template_rarity: float
    top_templates: list[tuple[str, int]] = field(default_factory=list)
    new_templates: list[str] = field(default_factory=list)

    def values(self) -> list[float]:
        """``[event_rate, error_ratio, template_rarity]``, in the order of :data:`FEATURES`."""
        return [self.event_rate, self.error_ratio, self.template_rarity]


def _q(weight: float) -> float:
    return round(weight, WEIGHT_DECIMALS)


class LogWindows:
    """Per-entity tumbling windows in event time over log events, with template rarity.

    **Windows.** Windows are ``[k * window, (k + 1) * window)`` (aligned on the epoch, like
    Kafka Streams' tumbling windows). The first event opens its window. An event at or past the
    end of the open window closes it, and the empty windows between it and the event's window
    close too, with zero counts (at most :data:`MAX_EMPTY_WINDOWS` of them, the ones just
    before the event's window: a long silence cannot flood the detectors). :meth:`flush` does
    the same for a clock time, so a silent entity still yields (empty) windows. A late event,
    one before the open window's start, is counted in the open window: a closed window is
    never reopened (its features were already scored), so late data counts by arrival.

    **Template rarity.** Every event's :func:`template` has a rarity, taken before the event
    is learned: ``-log2((f + alpha) / (F + alpha * (K + 1)))`` with ``f`` the template's
    decayed count in this entity's past events, ``F`` the decayed count of all of them, ``K``
    the number of remembered templates and ``alpha`` = :data:`RARITY_ALPHA`. A window's
    ``template_rarity`` is its events' largest rarity, so a burst of a new template counts by
    its first, rarest occurrence. A new entity's first event has rarity 0 (there is nothing
    to compare with). Counts decay with ``half_life``: all events of a window count as
    happening at its start, and counts decay when the open window moves on.

    **Bounds.** At most ``max_templates`` templates are remembered: a new one evicts the
    lightest other one, whose weight moves to an "other" bucket so ``F`` stays right; a
    template whose weight decays below :data:`FORGET_BELOW` is folded the same way. The open
    window counts at most ``max_templates`` distinct templates (more are counted as events but
    not listed). Weights are kept at :data:`WEIGHT_DECIMALS` decimals, so
    :meth:`to_state` is exact.

    Parameters
    ----------
    window
        Window length in seconds (default 60).
    half_life
        Seconds after which a template count weighs half (default one day).
    max_templates
        Templates remembered per entity, at least 1 (default 256).

    Examples
    --------
    >>> logs = LogWindows(window=60.0)
    >>> t = 1795766400.0
    >>> for i in range(30):
    ...     _ = logs.add(t + i, "info", f"GET /items/{i} 200 in {10 + i} ms")
    >>> _ = logs.add(t + 40, "error", "timeout after 3012 ms calling 10.0.0.7:8080")
    >>> closed = logs.add(t + 61, "info", "GET /items/7 200 in 12 ms")
    >>> [(w.start - t, w.count, w.errors) for w in closed]
    [(0.0, 31, 1)]
    >>> w = closed[0]
    >>> round(w.error_ratio, 4), round(w.event_rate, 4), round(w.template_rarity, 2)
    (0.0323, 0.5167, 5.0)
    >>> w.top_templates
    [('GET /items/<num> <num> in <num> ms', 30), ('timeout after <num> ms calling <ip>', 1)]
    >>> w.new_templates
    ['GET /items/<num> <num> in <num> ms', 'timeout after <num> ms calling <ip>']
    >>> LogWindowFeatures.FEATURES, [round(v, 4) for v in w.values()]
    (('event_rate', 'error_ratio', 'template_rarity'), [0.5167, 0.0323, 5.0])

    An event after a gap closes the open window and the empty ones in between:

    >>> [(w.start - t, w.count) for w in logs.add(t + 250, "info", "GET /items/8 200 in 9 ms")]
    [(60.0, 1), (120.0, 0), (180.0, 0)]
    >>> [(w.start - t, w.count) for w in logs.flush(t + 300)]
    [(240.0, 1)]
    """

    def __init__(
        self, window: float = 60.0, half_life: float = 86400.0, max_templates: int = 256
    ) -> None:
        self.window = require_positive("window", window)
        self.half_life = require_positive("half_life", half_life)
        self.max_templates = require_int("max_templates", max_templates, 1)
        self._n_learned = 0
        self._start: float | None = None
        self._count = 0
        self._errors = 0
        self._rarity = 0.0
        self._window_templates: dict[str, int] = {}
        self._new: list[str] = []
        self._weights: dict[str, float] = {}
        self._other = 0.0
        self._total = 0.0

    @property
    def n_learned(self) -> int:
        """Number of events added."""
        return self._n_learned

    def rarity(self, message_template: str) -> float:
        """Rarity in bits of a template against this entity's past events (see the class).

        Examples
        --------
        >>> logs = LogWindows()
        >>> for i in range(99):
        ...     _ = logs.add(float(i), "info", f"user {i} logged in")
        >>> _ = logs.add(99.0, "error", "disk full on /dev/sda1")
        >>> round(logs.rarity(template("user 7 logged in")), 2)
        0.04
        >>> round(logs.rarity(template("disk full on /dev/sda2")), 2)
        5.69
        >>> round(logs.rarity("never seen"), 2)
        6.69
        """
        weight = self._weights.get(message_template, 0.0)
        norm = self._total + RARITY_ALPHA * (len(self._weights) + 1)
        return -math.log2((weight + RARITY_ALPHA) / norm)

    def add(self, ts: float, level: str | None, message: str) -> list[LogWindowFeatures]:
        """Add one event; return the windows that closed because ``ts`` is past their end."""
        when = require_finite("ts", ts)
        error = is_error_level(level)
        tpl = template(message)
        closed = self._advance(when) if self._start is not None else []
        if self._start is None:
            self._start = self._align(when)
        self._count += 1
        self._errors += error
        self._rarity = max(self._rarity, self.rarity(tpl))
        if tpl not in self._weights and tpl not in self._window_templates and tpl not in self._new:
            self._new.append(tpl)
            del self._new[: -self.max_templates]
        if tpl in self._window_templates or len(self._window_templates) < self.max_templates:
            self._window_templates[tpl] = self._window_templates.get(tpl, 0) + 1
        self._learn(tpl)
        self._n_learned += 1
        return closed

    def flush(self, now_ts: float) -> list[LogWindowFeatures]:
        """Close the open window, and the empty ones after it, if ``now_ts`` is past their end.

        The window containing ``now_ts`` becomes the open one. Nothing happens before the first
        event.
        """
        when = require_finite("now_ts", now_ts)
        return [] if self._start is None else self._advance(when)

    def _align(self, ts: float) -> float:
        return math.floor(ts / self.window) * self.window

    def _advance(self, ts: float) -> list[LogWindowFeatures]:
        assert self._start is not None
        if ts < self._start + self.window:
            return []
        closed = [self._close()]
        target = self._align(ts)
        gap = max(0, round((target - self._start) / self.window) - 1)
        first_empty = max(1, gap - MAX_EMPTY_WINDOWS + 1)
        for k in range(first_empty, gap + 1):
            start = self._start + k * self.window
            closed.append(LogWindowFeatures(start, start + self.window, 0, 0, 0.0, 0.0, 0.0))
        self._decay(target - self._start)
        self._start = target
        return closed

    def _close(self) -> LogWindowFeatures:
        assert self._start is not None
        count = self._count
        top = sorted(self._window_templates.items(), key=lambda item: (-item[1], item[0]))[:3]
        features = LogWindowFeatures(
            start=self._start,
            end=self._start + self.window,
            count=count,
            errors=self._errors,
            event_rate=count / self.window,
            error_ratio=self._errors / count if count else 0.0,
            template_rarity=self._rarity if count else 0.0,
            top_templates=top,
            new_templates=list(self._new),
        )
        self._count = self._errors = 0
        self._rarity = 0.0
        self._window_templates = {}
        self._new = []
        return features

    def _decay(self, seconds: float) -> None:
        factor = float(0.5 ** (seconds / self.half_life))
        other = self._other * factor
        kept: dict[str, float] = {}
        for name, weight in self._weights.items():
            decayed = _q(weight * factor)
            if decayed < FORGET_BELOW:
                other += decayed
            else:
                kept[name] = decayed
        self._weights = kept
        self._other = _q(other)
        self._total = _q(sum(kept.values()) + self._other)

    def _learn(self, tpl: str) -> None:
        self._weights[tpl] = _q(self._weights.get(tpl, 0.0) + 1.0)
        self._total = _q(self._total + 1.0)
        if len(self._weights) > self.max_templates:
            lightest = min((w, n) for n, w in self._weights.items() if n != tpl)[1]
            self._other = _q(self._other + self._weights.pop(lightest))

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable state, exact; ``start`` is None before the first event.

        Examples
        --------
        >>> logs = LogWindows()
        >>> _ = logs.add(90.0, "ERROR", "disk full")
        >>> logs.to_state()
        {'n': 1, 'start': 60.0, 'count': 1, 'errors': 1, 'rarity': 0.0, 'window': {'disk full': 1}, 'new': ['disk full'], 'weights': {'disk full': 1.0}, 'other': 0.0}
        """
        return {
            "n": self._n_learned,
            "start": self._start,
            "count": self._count,
            "errors": self._errors,
            "rarity": self._rarity,
            "window": dict(self._window_templates),
            "new": list(self._new),
            "weights": dict(self._weights),
            "other": self._other,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **params: Any) -> Self:
        """Rebuild from a :meth:`to_state` dict and the constructor parameters.

        If ``max_templates`` was lowered, the lightest templates are folded into "other".

        Examples
        --------
        >>> logs = LogWindows.from_state({"n": 1, "start": 60.0, "count": 1, "errors": 1,
        ...     "rarity": 0.0, "window": {"disk full": 1}, "new": ["disk full"],
        ...     "weights": {"disk full": 1.0}, "other": 0.0}, window=60.0)
        >>> [(w.start, w.count, w.errors) for w in logs.flush(120.0)]
        [(60.0, 1, 1)]
        >>> LogWindows.from_state({"n": 1})
        Traceback (most recent call last):
        ...
        detectors.base.DetectorError: log_windows state has no field 'start'
        """
        owner = "log_windows"
        logs = cls(**params)

        def count(key: str) -> int:
            return require_int(f"{owner} state {key}", state_field(state, key, owner), 0)

        def mapping(key: str) -> Mapping[str, Any]:
            value = state_field(state, key, owner)
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise DetectorError(f"{owner} state {key} must map templates to numbers")
            return value

        logs._n_learned = count("n")
        start = state_field(state, "start", owner)
        logs._start = None if start is None else require_finite(f"{owner} state start", start)
        logs._count = count("count")
        logs._errors = count("errors")
        if logs._errors > logs._count:
            raise DetectorError(f"{owner} state errors must not exceed count")
        logs._rarity = require_finite(f"{owner} state rarity", state_field(state, "rarity", owner))
        logs._window_templates = {
            k: require_int(f"{owner} state window[{k!r}]", v, 1)
            for k, v in mapping("window").items()
        }
        new = state_field(state, "new", owner)
        if not isinstance(new, list) or not all(isinstance(k, str) for k in new):
            raise DetectorError(f"{owner} state new must be a list of templates")
        logs._new = new[-logs.max_templates :]
        weights = {
            k: _q(require_finite(f"{owner} state weights[{k!r}]", v))
            for k, v in mapping("weights").items()
        }
        other = _q(require_finite(f"{owner} state other", state_field(state, "other", owner)))
        if other < 0 or any(w < 0 for w in weights.values()):
            raise DetectorError(f"{owner} state weights must not be negative")
        while len(weights) > logs.max_templates:
            lightest = min((w, n) for n, w in weights.items())[1]
            other = _q(other + weights.pop(lightest))
        while len(logs._window_templates) > logs.max_templates:
            logs._window_templates.popitem()
        logs._weights = weights
        logs._other = other
        logs._total = _q(sum(weights.values()) + other)
        return logs
