"""Parsed state of the keys a worker scored recently, so scoring a key again parses nothing.

A key's state is a JSON-shaped dict (it goes to the changelog); turning it into detector,
threshold and insight objects costs more than scoring a few points. The worker's own last write
of a key is the dict it reads back next time (the memory store keeps the object), so a cache
entry is used only when the state passed in *is* (identity) the dict its objects wrote; anything
else (a restart, a rebalance, a state from another worker, a dry run) parses as usual. An entry
is taken out while in use and put back only after a successful step, so an exception half-way
cannot leave objects that disagree with the stored state.

The worker's own state of a key is a :class:`LiveState`: its small fields as they are, the rest
written from the live objects only when something reads it (a query, a changelog record), not
at every message. Before the objects move on to the next message, a state that a changelog
write still holds (``pin``) is written out; one that nobody holds any more is not needed. The
entity's shared state is one too: its lifecycle part as it is, the correlation of its signals
(:data:`SHARED_WRITTEN`) written from the live correlator when read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

LIGHT = ("format", "version", "n_features", "points")  # a LiveState's fields read as they are
WRITTEN = ("model", "insights", "quality", "suppress")  # and those written from its objects
SHARED_WRITTEN = ("signals",)  # the fields of an entity's shared state written from its objects


class LiveState(Mapping[str, Any]):
    """A key's state whose bulk is written from its live objects when first read.

    ``light`` holds the fields in :data:`LIGHT`; ``write`` gives the whole state (the same
    dict the eager form builds), and is called once, at the first read of a field of
    ``written`` (:data:`WRITTEN`; for an entity's shared state :data:`SHARED_WRITTEN`), of the
    whole mapping, or of its JSON form (``__json__``, which Faust's codec calls). Other fields
    may be set (a collector's rate memory): they are kept as they are, after the written ones.
    Once its objects moved on (:meth:`moved`), a state not yet written cannot be read any more.

    Examples
    --------
    >>> calls = []
    >>> def write():
    ...     calls.append(1)
    ...     return {"format": 3, "model": {"n": 2}, "points": 2}
    >>> state = LiveState({"format": 3, "points": 2}, write)
    >>> state["points"], state.get("format"), calls
    (2, 3, [])
    >>> state["rates"] = {"bytes": 7}
    >>> state.get("rates"), state.get("other"), calls
    ({'bytes': 7}, None, [])
    >>> state["model"], dict(state) == {**write(), "rates": {"bytes": 7}}, len(calls)
    ({'n': 2}, True, 2)
    >>> LiveState({}, write).pin().written
    False
    >>> moved = LiveState({}, write)
    >>> moved.moved()
    >>> moved["model"]
    Traceback (most recent call last):
    ...
    RuntimeError: a key's live state was read after its objects moved on
    >>> pinned = LiveState({}, write).pin()
    >>> pinned.moved()  # written out first
    >>> pinned["model"]
    {'n': 2}
    >>> shared = LiveState({"open": None}, lambda: {"open": None, "signals": []}, SHARED_WRITTEN)
    >>> shared["open"], shared.written, shared["signals"], shared.written
    (None, False, [], True)
    """

    __slots__ = ("_light", "_write", "_state", "_moved", "_written", "pinned")

    def __init__(
        self,
        light: dict[str, Any],
        write: Callable[[], dict[str, Any]],
        written: tuple[str, ...] = WRITTEN,
    ) -> None:
        self._light = light
        self._write: Callable[[], dict[str, Any]] | None = write
        self._state: dict[str, Any] | None = None
        self._moved = False
        self._written = written
        self.pinned = False  # held by a changelog write: written out before its objects move

    @property
    def written(self) -> bool:
        return self._state is not None

    @property
    def light(self) -> dict[str, Any]:
        """The fields kept as they are (not written from the objects)."""
        return self._light

    def state(self) -> dict[str, Any]:
        """The whole state (written now if it was not)."""
        state = self._state
        if state is None:
            if self._moved or self._write is None:
                raise RuntimeError("a key's live state was read after its objects moved on")
            state = self._write()
            state.update((k, v) for k, v in self._light.items() if k not in state)
            self._state = state
            self._write = None  # the objects are no longer needed here
        return state

    def pin(self) -> LiveState:
        """Mark the state as held by a changelog record still to be written."""
        self.pinned = True
        return self

    def moved(self) -> None:
        """Its objects go on to the next message: write the state out first if it is pinned."""
        if self.pinned:
            self.state()
        self._moved = True

    def failed(self) -> None:
        """The step its objects moved on to failed half-way (the points are checked before, so
        a bug): the state is written from the objects as that step left them, which the stored
        row keeps (the eager form kept the state before the step)."""
        self._moved = False

    def kept(self) -> None:
        """The step its objects moved on to left them as they were (an entity's shared state
        that no point of the step changed): it stays readable."""
        self._moved = False

    def __getitem__(self, key: str) -> Any:
        if self._state is None and key not in self._written:
            return self._light[key]
        return self.state()[key]

    def get(self, key: str, default: Any = None) -> Any:
        if self._state is None and key not in self._written:
            return self._light.get(key, default)
        return self.state().get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        """Set a field other than those written from the objects."""
        if key in self._written or (self._written is WRITTEN and key in LIGHT):
            raise KeyError(f"{key} is the scoring step's")
        if self._state is not None:
            self._state[key] = value
        self._light[key] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self.state())

    def __len__(self) -> int:
        return len(self.state())

    def __bool__(self) -> bool:
        return True  # never empty (its light fields), and asking must not write it

    def __json__(self) -> dict[str, Any]:
        return self.state()

    def __repr__(self) -> str:
        return f"LiveState({self._state!r})" if self._state is not None else "LiveState(...)"


class LiveCache:
    """At most ``max_entries`` live objects, least recently used evicted.

    Examples
    --------
    >>> cache = LiveCache(max_entries=2)
    >>> state = {"points": 3}
    >>> cache.put("a", state, "objects of a")
    >>> cache.take("a", {"points": 3}) is None  # an equal dict, not the one written
    True
    >>> cache.put("a", state, "objects of a")
    >>> cache.take("a", state)
    'objects of a'
    >>> cache.take("a", state) is None  # taken out while in use
    True
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Mapping[str, Any], Any]] = OrderedDict()

    def take(self, key: Hashable, state: Mapping[str, Any] | None) -> Any:
        """The objects written with ``state``, removed from the cache; None on a miss."""
        entry = self._entries.pop(key, None)
        if entry is None or state is None or entry[0] is not state:
            return None
        return entry[1]

    def put(self, key: Hashable, state: Mapping[str, Any], objects: Any) -> None:
        """Remember ``objects`` as the parsed form of ``state`` (the dict that is stored)."""
        self._entries[key] = (state, objects)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def pin_row(row: Any) -> None:
    """Pin the live states of an entity's row (``row["models"]`` and ``row["shared"]``) that a
    changelog write holds: the write may serialise them later, after the worker scored more
    messages."""
    if type(row) is not dict:
        return
    models = row.get("models")
    if models:
        for state in models.values():
            if type(state) is LiveState:
                state.pin()
    shared = row.get("shared")
    if type(shared) is LiveState:
        shared.pin()
