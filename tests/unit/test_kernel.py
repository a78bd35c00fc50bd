"""The adaptive detector's compiled kernel (``make kernel``) is the one that runs, and it scores
and learns exactly as the Python modules it was built from: the same floats bit for bit, the
same flags, change points and stored state; a build older than its sources is not used."""

from __future__ import annotations

import importlib
import json
import math
import types
from collections.abc import Iterator

import numpy as np
import pytest

from detectors import adaptive, kernel
from detectors.adaptive import Adaptive

DAY = 86400.0


def _points(seed: int) -> Iterator[tuple[list[float], float | None]]:
    """Two features over five days, every part of the step at work: a daily cycle learned into
    the profile, spikes and a bump, a level shift that stays, a variance that rises, a gap in
    the feed, sparse counts, missing values, and points without a time."""
    rng = np.random.default_rng(seed)
    ts = 0.0
    for k in range(5 * 288 + 600):
        ts += 60.0 if k > 5 * 288 else 300.0
        if k == 900:
            ts += 4 * 3600.0  # a gap
        day = math.sin(2 * math.pi * ts / DAY)
        a = 100.0 + 10.0 * day + rng.normal(0.0, 1.0 if k < 1200 else 4.0)
        if k >= 700:
            a += 25.0  # a level that stays
        if rng.random() < 0.01:
            a += 30.0 * rng.choice([-1.0, 1.0])
        b = float(rng.poisson(0.2)) + (8.0 if 1500 <= k < 1504 else 0.0)
        if rng.random() < 0.02:
            b = math.nan
        yield [a, b], (None if k % 97 == 0 else ts)


def _run(seed: int) -> list[str]:
    """What one detector answers and keeps along the series, as exact text: every step's
    scores, baselines, flags and change points, the state now and then, a restore from it
    halfway, and feedback learned as normal."""
    det = Adaptive(2)
    out = []
    for n, (x, ts) in enumerate(_points(seed)):
        step = det.step(x, ts, 2.0)
        out.append(repr((step.feature_scores, step.baseline, step.flagged, step.change)))
        if n % 250 == 0:
            state = det.to_state()
            out.append(json.dumps(state))
            if n == 1000:
                det = Adaptive.from_state(2, {}, json.loads(json.dumps(state)))
        if n % 333 == 0:
            det.learn_one(x)
    dry = det.step([150.0, 3.0], 1e9, 2.0, learn=False)
    out.append(repr((dry.feature_scores, dry.flagged)))
    out.append(json.dumps(det.to_state()))
    return out


def _with(monkeypatch: pytest.MonkeyPatch, modules: dict[str, object]) -> None:
    """The adaptive detector built over these kernel modules."""
    monkeypatch.setattr(adaptive, "FeatureStep", modules["adaptive_step"].FeatureStep)  # type: ignore[attr-defined]
    monkeypatch.setattr(adaptive, "_Feature", modules["adaptive_state"]._Feature)  # type: ignore[attr-defined]
    monkeypatch.setattr(adaptive, "TailCalibration", modules["_tail"].TailCalibration)  # type: ignore[attr-defined]


def test_the_compiled_kernel_is_built_and_runs() -> None:
    # make builds it (scripts/build_kernel.py, which needs a C compiler and Python's headers);
    # a Python kernel here means the build failed or is stale: `make kernel` says why
    assert kernel.KERNEL == "compiled (mypyc)", kernel.KERNEL
    assert type(Adaptive(1)._kernel).__module__ == f"{kernel.COMPILED}.adaptive_step"


@pytest.mark.parametrize("seed", range(2))
def test_compiled_and_python_kernels_answer_the_same_bit_for_bit(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled, which = kernel.load("")
    assert which == "compiled (mypyc)", which
    python, _ = kernel.load("python")
    _with(monkeypatch, compiled)  # type: ignore[arg-type]
    fast = _run(seed)
    _with(monkeypatch, python)  # type: ignore[arg-type]
    slow = _run(seed)
    assert len(fast) == len(slow)
    for k, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert a == b, f"entry {k} differs"
    flagged = sum(line.count("True") for line in slow if line.startswith("(["))
    changes = sum(1 for line in slow if line.startswith("([") and not line.endswith("())"))
    assert flagged > 10 and changes > 0  # the series reaches the flags and change points


def test_a_build_older_than_its_sources_or_a_python_choice_runs_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kernel, "source_digest", lambda: "0" * 64)
    modules, which = kernel.load("")
    assert "older than its sources" in which
    assert modules["adaptive_step"].__name__ == "detectors.adaptive_step"
    modules, which = kernel.load("python")
    assert which == "python (ANOMALY_KERNEL=python)"
    assert modules["_tail"].__name__ == "detectors._tail"


def test_copies_left_without_their_extension_modules_run_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an install that took the build's package but not its compiled files: the copies would
    # import as plain Python; the kernel says so rather than claim it is compiled
    real = importlib.import_module
    built = types.SimpleNamespace(SOURCE_DIGEST=kernel.source_digest())

    def copies(name: str) -> object:
        if name == kernel.COMPILED:
            return built
        return real(name.replace(kernel.COMPILED, "detectors"))

    monkeypatch.setattr(kernel.importlib, "import_module", copies)
    modules, which = kernel.load("")
    assert which == "python (the compiled kernel's modules are not compiled: make kernel)"
    assert modules["adaptive_step"].__file__.endswith("detectors/adaptive_step.py")
