"""Pausing Python's cyclic garbage collector while a large request builds its objects.

Parsing 100,000 records, or building the 100,000 point objects of an answer, allocates a
container per record; every 700 of them (10,000 in a worker: ``app.worker.gc_policy``) start a
collection, which walks a heap that the same request has filled, so the work grows faster than
the request: at 100,000 points the collector
took about two thirds of parsing the body and of encoding the answer (measured with
``bench.score_path`` when this was added).
Reference counting still frees everything these objects leave behind, and only reference cycles
wait for the next collection. Used around synchronous code only (no ``await`` inside), so no
other task of the worker runs with the collector paused.

Pausing alone only defers the work: the collector counts the containers allocated meanwhile, and
the first allocation after it is enabled again starts a collection of the youngest generation,
which then holds every container the block made and kept (30 ms after parsing 100,000 records,
a quarter of the request). So, after a block that made :data:`PROMOTE_AFTER` containers or
more, its survivors join the oldest generation on the way out (``gc.freeze`` then
``gc.unfreeze``: two list splices, whatever their size), where they wait for the next full
collection, as objects that lived through a few collections do anyway. Small blocks leave the
generations as they are, so the young garbage of the rest of the worker is collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

PROMOTE_AFTER = 20_000  # containers made in a block (about 2,000 records of a request)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block; nested blocks leave it to the outermost.

    Examples
    --------
    >>> with paused_gc():
    ...     with paused_gc():
    ...         pass
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True

    What the block made is in the oldest generation, so no collection walks it soon:

    >>> with paused_gc():
    ...     made = [[] for _ in range(PROMOTE_AFTER)]
    >>> gc.get_count()[0] < 10, gc.is_tracked(made)
    (True, True)
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] >= PROMOTE_AFTER:
                gc.freeze()  # everything to the permanent generation; the young count restarts
                gc.unfreeze()  # ... and from there to the oldest generation
            gc.enable()
