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

Pausing alone only defers the work for what the block keeps: the collector counts the
containers allocated meanwhile (less those freed), and the first allocation after it is enabled
again starts a collection of the youngest generation, which walks every container the block made
and kept. So a block should keep little: the score route turns its parsed records into columns
inside the same pause (``api.routers.score``), and its 200,000 containers are gone before the
collector runs again. The block never moves objects between generations: an earlier version
promoted what a large block kept with ``gc.freeze()`` then ``gc.unfreeze()``, which also
unfroze the heap a worker had frozen at start (``app.worker.gc_policy``), so every later full
collection walked it again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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

    What is frozen stays frozen, however much the block made (a frozen object that reference
    counting frees leaves the count, so a few may go meanwhile):

    >>> gc.freeze()
    >>> frozen = gc.get_freeze_count()
    >>> with paused_gc():
    ...     made = [[] for _ in range(50_000)]
    >>> gc.get_freeze_count() > frozen // 2
    True
    >>> gc.unfreeze()
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
