"""Which implementation of the adaptive detector's per-point kernel runs: compiled or Python.

The kernel is four modules of plain Python (:data:`MODULES`: the tail calibration, the value
bands, a feature's state and the step that scores and learns a point). Where a C compiler is at
hand, ``make`` also compiles a copy of them with mypyc (``scripts/build_kernel.py``) into
``detectors/_compiled/`` (not in git): the same source and the same floats bit for bit
(``tests/unit/test_kernel.py``), about three times faster per point. The compiled copy runs
when it was built from the sources beside this module (its digest says so); a stale or missing
build falls back to the Python modules, and :data:`KERNEL` says which runs and why (the worker
logs it at start). ``ANOMALY_KERNEL=python`` runs the Python modules whatever is built.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

#: The kernel's modules, each importing only those before it.
MODULES = ("_tail", "_value_bands", "adaptive_state", "adaptive_step")
#: The package the compiled copy is built into.
COMPILED = "detectors._compiled"


def source_digest() -> str:
    """SHA-256 of the kernel's Python sources, in :data:`MODULES` order."""
    digest = hashlib.sha256()
    for name in MODULES:
        digest.update((Path(__file__).parent / f"{name}.py").read_bytes())
    return digest.hexdigest()


def load(choice: str | None = None) -> tuple[dict[str, ModuleType], str]:
    """The kernel's modules by name, and which they are and why. ``choice`` (default
    ``ANOMALY_KERNEL``): ``python`` for the Python modules, else the compiled copy when it is
    built from these sources."""
    python = {name: importlib.import_module(f"detectors.{name}") for name in MODULES}
    if (choice if choice is not None else os.environ.get("ANOMALY_KERNEL", "")) == "python":
        return python, "python (ANOMALY_KERNEL=python)"
    try:
        built = importlib.import_module(COMPILED)
    except ImportError:
        return python, "python (the compiled kernel is not built: make kernel)"
    if getattr(built, "SOURCE_DIGEST", None) != source_digest():
        return python, "python (the compiled kernel is older than its sources: make kernel)"
    try:
        compiled = {name: importlib.import_module(f"{COMPILED}.{name}") for name in MODULES}
    except ImportError as exc:
        return python, f"python (the compiled kernel does not load: {exc})"
    if any(str(module.__file__).endswith(".py") for module in compiled.values()):
        # the build's copies without their extension modules (an install that left them out)
        return python, "python (the compiled kernel's modules are not compiled: make kernel)"
    return compiled, "compiled (mypyc)"


_modules, KERNEL = load()

if TYPE_CHECKING:
    from detectors._tail import TailCalibration
    from detectors.adaptive_state import _Feature
    from detectors.adaptive_step import FeatureStep
else:
    TailCalibration = _modules["_tail"].TailCalibration
    _Feature = _modules["adaptive_state"]._Feature
    FeatureStep = _modules["adaptive_step"].FeatureStep

__all__ = ["COMPILED", "KERNEL", "MODULES", "FeatureStep", "TailCalibration", "_Feature", "load"]
