"""Parsed state of the keys a worker scored recently, so scoring a key again parses nothing.

A key's state is a JSON-shaped dict (it goes to the changelog); turning it into detector,
threshold and insight objects costs more than scoring a few points. The worker's own last write
of a key is the dict it reads back next time (the memory store keeps the object), so a cache
entry is used only when the state passed in *is* (identity) the dict its objects wrote; anything
else (a restart, a rebalance, a state from another worker, a dry run) parses as usual. An entry
is taken out while in use and put back only after a successful step, so an exception half-way
cannot leave objects that disagree with the stored state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any


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
