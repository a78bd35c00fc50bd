"""Python's cyclic garbage collector in a worker: young collections less often, and the heap of
start-up frozen out of the full collections.

With CPython's default thresholds (700, 10, 10) a worker at 1,000 single-point messages/s ran a
full collection (the oldest generation, every tracked object in the process) every 7 to 10 s;
each took 200 to 400 ms on the loaded development machine and freed almost nothing (measured
with ``bench/loop_probe`` in the worker; docs/PROFILING.md, "The tail of produce → incident"). The
event loop stops meanwhile, so the incidents whose points arrived then waited for it: that was
the tail of produce → incident at 1,000 events/s. Objects that live about a second (the rows a
write-back flush sends once per interval, a batch's messages and events) outlived the two young
collections, which run every 700 allocations, and so counted toward the next full one.

- :func:`tune_collector`: the youngest generation is collected every
  :data:`YOUNG_COLLECTION_EVERY` allocations instead of 700. Most of those objects are then gone
  by the time a young collection looks at them; in the same measurement the full collections
  of the stream went (none, or one in 75 s), and the collector's CPU time fell from about 43 to
  12 µs a message. A young collection walks at most that many new objects (a few ms).
- :func:`freeze_startup_heap`: once the worker has started (modules, Faust, the API, the
  recovered tables: about 140,000 objects), those objects move to the permanent generation,
  which no collection walks; a full collection that still comes walks only what the worker made
  since (about half the pause at 1,400 keys). They are still freed when their last reference
  goes; only a reference cycle among them would never be collected, and objects of start-up
  live as long as the process anyway. Nothing unfreezes them: ``api.nogc.paused_gc`` once
  promoted a large request's objects with ``gc.freeze()`` then ``gc.unfreeze()``, which put this
  heap back into the full collections after the first request of 10,000 records (a full
  collection during a 100,000-point request then took 65-106 ms of CPU instead of 6).
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_EVERY = 10_000  # allocations of containers between two young collections


def tune_collector() -> None:
    """Collect the youngest generation every :data:`YOUNG_COLLECTION_EVERY` allocations; the
    older generations keep their thresholds.

    >>> saved = gc.get_threshold()
    >>> tune_collector()
    >>> gc.get_threshold()[0]
    10000
    >>> gc.set_threshold(*saved)
    """
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)


def freeze_startup_heap() -> int:
    """Collect what start-up left behind, then move every object left to the permanent
    generation; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
