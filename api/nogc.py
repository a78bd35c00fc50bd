"""Pausing Python's cyclic garbage collector while a large request builds its objects.

Parsing 100,000 records, or building the 100,000 point objects of an answer, allocates a
container per record; every 700 of them start a collection, which walks a heap that the same
request has filled, so the work grows faster than the request: at 100,000 points the collector
took about two thirds of parsing the body and of encoding the answer (docs/PROFILING.md).
Reference counting still frees everything these objects leave behind, and only reference cycles
wait for the next collection. Used around synchronous code only (no ``await`` inside), so no
other task of the worker runs with the collector paused.
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
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
