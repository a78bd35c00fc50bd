"""Which implementation of the engine's per-point and per-message modules runs: compiled or Python.

:data:`MODULES` are plain Python modules (the adaptive detector's kernel and the modules that
carry a single-point message's work: scoring, the pipeline step, the trend, the cross-signal
correlation, insights, the row update, the recent-series view, decoding), and the reading of a
``POST /anomaly/score`` body's records. Where a C compiler is at hand, ``make`` also compiles
them with mypyc (``scripts/build_kernel.py``) into ``detectors/_compiled/`` (not in git): the
same source and the same floats bit for bit (``tests/unit/test_kernel.py``). The compiled
modules are imported under their own names (an import finder put first on ``sys.meta_path``
when this module is imported, which each of their packages does first), so every importer gets
the same classes. They run when they were built
from the sources beside them (the build's digest says so); a stale, partial or missing build
runs the Python modules, and :data:`KERNEL` says which runs and why (the worker logs it at
start). ``ANOMALY_KERNEL=python`` runs the Python modules whatever is built.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

#: The compiled modules, one mypyc group: an interpreted class cannot inherit a compiled one,
#: so each is a leaf or compiled with the modules that subclass its classes.
MODULES = (
    # the adaptive detector's kernel
    "detectors._tail",
    "detectors._value_bands",
    "detectors.adaptive_state",
    "detectors.adaptive_step",
    # a single-point message's work with the README configuration
    "detectors.ew_moments",
    "detectors.trend",
    "detectors.signal_correlation",
    "detectors.correlation",
    "detectors.forecast",
    "detectors.holt_winters",  # subclasses forecast's _Smoother
    "detectors._robust",
    "detectors._checks",
    "detectors.thresholds",
    "incidents.compact",
    "incidents.keep_firing",  # the lifecycle's walk over a block's quiet rows
    "incidents.pipeline",
    "incidents.scoring",
    "incidents.plain_records",  # the records of a POST /anomaly/score body
    "app.telemetry.messages",
    "app.worker.entity_record",
    "app.worker.recent",
)
#: The folder the compiled modules are built into, as packages of extension modules.
BUILD = Path(__file__).resolve().parent / "_compiled"
#: mypyc's name for the group: its shared library is ``{GROUP}__mypyc``.
GROUP = "anomaly_compiled"
_ROOT = BUILD.parents[1]


def source_path(name: str) -> Path:
    """The Python source of a module of :data:`MODULES`."""
    return _ROOT.joinpath(*name.split(".")).with_suffix(".py")


def built_path(name: str) -> Path:
    """Where the build puts a module's extension (or the group's library)."""
    return BUILD.joinpath(*name.split(".")).with_name(name.split(".")[-1] + EXTENSION_SUFFIXES[0])


def source_digest() -> str:
    """SHA-256 of :data:`MODULES`' names and Python sources."""
    digest = hashlib.sha256()
    for name in MODULES:
        digest.update(name.encode() + b"\0" + source_path(name).read_bytes())
    return digest.hexdigest()


def choose(choice: str | None = None) -> tuple[dict[str, Path], str]:
    """The extension to load for each module's name (empty: run Python), and which runs and
    why. ``choice`` (default ``ANOMALY_KERNEL``): ``python`` for the Python modules, else the
    compiled ones when they are built from these sources."""
    if (choice if choice is not None else os.environ.get("ANOMALY_KERNEL", "")) == "python":
        return {}, "python (ANOMALY_KERNEL=python)"
    names = (*MODULES, f"{GROUP}__mypyc")
    paths = {name: built_path(name) for name in names}
    stamp = BUILD / "SOURCE_DIGEST"
    if not stamp.is_file() or not all(path.is_file() for path in paths.values()):
        return {}, "python (the compiled modules are not built: make kernel)"
    if stamp.read_text().strip() != source_digest():
        return {}, "python (the compiled modules are older than their sources: make kernel)"
    return paths, "compiled (mypyc)"


class _CompiledFinder(MetaPathFinder):
    """Finds the compiled extension of each module of :data:`MODULES` by its own name."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        where = self.paths.get(fullname)
        return None if where is None else importlib.util.spec_from_file_location(fullname, where)


def install(choice: str | None = None) -> str:
    """Put the compiled modules first on the import path when :func:`choose` picks them; which
    run and why. Before any of them is imported: a process runs all of them compiled or none."""
    for finder in sys.meta_path:
        if isinstance(finder, _CompiledFinder):
            return "compiled (mypyc)"
    paths, why = choose(choice)
    if paths:
        early = sorted(name for name in MODULES if name in sys.modules)
        if early:
            return f"python ({', '.join(early)} imported before detectors.kernel)"
        sys.meta_path.insert(0, _CompiledFinder(paths))
    return why


#: Which modules run, compiled or Python, and why.
KERNEL = install()
