"""The compiled modules (``make kernel``, :mod:`detectors.kernel`) are the ones that run, and the
engine answers with them exactly as with the Python modules they were built from: the same
floats bit for bit, the same flags, incidents, stored rows and charts; a build older than its
sources is not used. A process runs all of them compiled or none, so each side of a comparison
runs in its own process (``ANOMALY_KERNEL=python`` for the Python one)."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from importlib import import_module
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from app.telemetry.messages import decode_batch
from app.worker.entity_record import EntityRecord
from app.worker.recent import RecentStore
from detectors import kernel
from detectors.adaptive import Adaptive
from detectors.thresholds import AdaptiveThreshold
from incidents.config import ModelConfig
from incidents.live import LiveCache
from incidents.recommended import with_recommended
from incidents.scoring import score_batch
from tests.unit.test_columnar_equivalence import CONFIGS

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0
COMPILED = "compiled (mypyc)"
compiled_only = pytest.mark.skipif(kernel.KERNEL != COMPILED, reason=kernel.KERNEL)

#: The configurations of the engine comparison: the README's (zscore with a known baseline and
#: the adaptive threshold), the recommended model, and forecasts (Holt's trend, Holt-Winters).
ENGINE_CONFIGS = {
    "readme": CONFIGS["readme"],
    "recommended": with_recommended({"model_id": "rec", "features": ["cpu", "mem"]}),
    "holt": {**CONFIGS["readme"], "model_id": "holt", "forecast": {"predictive_horizon": 6}},
    "holt-winters": {
        **CONFIGS["readme"],
        "model_id": "hw",
        "forecast": {"season_length": 12, "predictive_horizon": 4},
    },
}


def _points(seed: int) -> Iterator[tuple[list[float], float | None]]:
    """Two features over five days, every part of the adaptive step at work: a daily cycle
    learned into the profile, spikes and a bump, a level shift that stays, a variance that
    rises, a gap in the feed, sparse counts, missing values, and points without a time."""
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


def _adaptive(seed: int) -> list[str]:
    """What one adaptive detector answers and keeps along the series, as exact text: every
    step's scores, baselines, flags and change points, the state now and then, a restore from it
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


def _adaptive_blocks(seed: int) -> list[str]:
    """:func:`_adaptive`'s points through the block walk (``Adaptive.step_block``), in blocks
    that end at each point without a time (which goes as a block of one without times), then
    noise whose level moves for good, in blocks: every block's scores, baselines, flags and
    change points, and the state now and then."""
    out = []
    shift = np.random.default_rng(seed).normal(size=(2500, 2)) + [100.0, 5.0]
    shift[2000:, 0] += 50.0
    for det, points in (
        (Adaptive(2), list(_points(seed))),
        (Adaptive(2), [(row, 60.0 * k) for k, row in enumerate(shift.tolist())]),
    ):
        start = 0
        while start < len(points):
            stop = start + 1
            if points[start][1] is not None:
                while stop < len(points) and points[stop][1] is not None and stop - start < 300:
                    stop += 1
            rows = np.array([x for x, _ in points[start:stop]], dtype=float)
            ts = None if points[start][1] is None else np.array([t for _, t in points[start:stop]])
            steps = det.step_block(rows, ts, 2.0)
            found = (steps.feature_scores, steps.centers, steps.spreads, steps.flagged)
            out.append(repr([a.tolist() for a in found] + [steps.learned.tolist(), steps.changes]))
            if start // 250 != stop // 250:
                out.append(json.dumps(det.to_state()))
            start = stop
        out.append(json.dumps(det.to_state()))
    return out


def _threshold_walks(seed: int) -> list[str]:
    """The adaptive threshold's walk over blocks (``AdaptiveThreshold.settle``: row by row where
    compiled, numpy stretches as Python) with and without a guess of the flags: every block's
    thresholds and flags, and the state after it. Normal scores, spikes, bursts of flags, gaps,
    infinities, and medians that overflow."""
    rng = np.random.default_rng(seed)
    threshold = AdaptiveThreshold(2.5, 64, 1.5)
    out = []
    for k in range(40):
        n = int(rng.integers(1, 1500))
        scores = np.abs(rng.normal(0.0, 1.0, n))
        scores[rng.random(n) < 0.02] = 9.0
        if k % 5 == 1:
            scores[n // 3 : n // 3 + 40] = rng.uniform(5.0, 50.0, len(scores[n // 3 : n // 3 + 40]))
        if k % 5 == 2:
            scores[rng.random(n) < 0.2] = np.nan
            scores[rng.random(n) < 0.01] = np.inf
        if k == 33:
            scores[rng.random(n) < 0.6] = 1.7e308
        guess = None if k % 3 else rng.random(n) < 0.03
        limits, flags, done = threshold.settle(scores, np.arange(n) >= 5, guess)
        out.append(repr((limits.tolist(), flags.tolist(), done)))
        out.append(json.dumps(threshold.to_state()))
    return out


def _messages(n: int, entities: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """Metrics messages as producers send them, round robin over ``entities`` keys: mostly one
    point, sometimes a columnar block of 2-40; normal values with spikes that open incidents, a
    level shift, a daily-ish cycle, a silent stretch, missing values, now and then a label."""
    rng = np.random.default_rng(seed)
    sent = [0] * entities
    for m in range(n):
        e = m % entities
        size = 1 if rng.random() < 0.9 else int(rng.integers(2, 41))
        first = sent[e]
        sent[e] += size
        k = np.arange(first, first + size)
        ts = 1_795_766_400.0 + 10.0 * k + np.where(k > 400, 3600.0, 0.0)
        a = 100.0 + 8.0 * np.sin(k / 30.0) + rng.normal(0.0, 5.0, size) + (k > 600) * 30.0
        a += (rng.random(size) < 0.03) * 60.0
        b = rng.normal(5.0, 1.0, size) + (rng.random(size) < 0.02) * 12.0
        doc: dict[str, Any] = {"model_id": "", "entity": f"host-{e}"}
        if size == 1:
            values: list[Any] = [float(a[0]), None if rng.random() < 0.02 else float(b[0])]
            doc.update(ts=float(ts[0]), values=values)
            if rng.random() < 0.05:
                doc["label"] = int(a[0] > 140.0)
        else:
            doc.update(ts=ts.tolist(), values=[a.tolist(), b.tolist()])
        yield f"host-{e}", orjson.dumps(doc)


def _engine(name: str, n: int = 1500, entities: int = 7) -> list[str]:
    """Messages through the worker's steps (decode, ``score_batch`` with the live cache, the
    row update, the recent-series view) under one configuration; what a user sees of each
    message, and now and then the stored rows and the charts, as exact text."""
    config = ModelConfig.from_dict(ENGINE_CONFIGS[name])
    table: dict[str, dict[str, Any]] = {}
    cache, recent = LiveCache(), RecentStore(points=40)
    out = []
    for offset, (entity, raw) in enumerate(_messages(n, entities, seed=len(name))):
        payload = orjson.loads(raw)
        payload["model_id"] = config.model_id
        decoded = decode_batch(payload, config, 1_000_000)
        record = EntityRecord(table.get(entity))
        result = score_batch(
            config,
            entity,
            record.model_state(config.model_id),
            decoded.ts,
            decoded.values,
            entity_state=record.shared,
            labels=decoded.labels,
            cache=cache,
        )
        table[entity] = record.updated(
            "telemetry.metrics:0",
            offset,
            {config.model_id: result.state or {}},
            result.entity_state,
            result.events,
        )
        recent.add(config.model_id, entity, result)
        seen = {
            "points": [p.to_dict() for p in result.points],
            "events": result.events,
            "counters": dict(sorted(result.counters.items())),
            "insights": result.insights,
        }
        out.append(orjson.dumps(seen, default=repr, option=orjson.OPT_SERIALIZE_NUMPY).decode())
        if offset % 97 == 0:
            out.append(orjson.dumps(table[entity], default=dict).decode())
            out.append(orjson.dumps(recent.series(config.model_id, entity)).decode())
    out.append(orjson.dumps(table, default=dict, option=orjson.OPT_SORT_KEYS).decode())
    return out


def lines() -> dict[str, list[str]]:
    """Everything the comparison looks at, by workload (run by each side's process)."""
    answers = {f"adaptive {seed}": _adaptive(seed) for seed in range(2)}
    answers.update({f"adaptive blocks {seed}": _adaptive_blocks(seed) for seed in range(2)})
    answers.update({f"threshold walks {seed}": _threshold_walks(seed) for seed in range(2)})
    answers.update({f"engine {name}": _engine(name) for name in ENGINE_CONFIGS})
    return answers


def _in_process(choice: str) -> tuple[str, dict[str, list[str]]]:
    """Which modules ran and :func:`lines`, from a fresh process with ``ANOMALY_KERNEL=choice``."""
    code = (
        "import json; from detectors.kernel import KERNEL; from tests.unit import test_kernel; "
        "print(json.dumps([KERNEL, test_kernel.lines()]))"
    )
    env = {**os.environ, "ANOMALY_KERNEL": choice}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    which, answers = json.loads(done.stdout)
    return which, answers


def test_the_compiled_modules_are_built_and_run() -> None:
    # make builds them (scripts/build_kernel.py, which needs a C compiler and Python's headers);
    # Python modules here mean the build failed or is stale: `make kernel` says why
    assert kernel.KERNEL == COMPILED, kernel.KERNEL
    for name in kernel.MODULES:
        module = import_module(name)
        assert module.__file__ == str(kernel.built_path(name)), name
        assert module.__file__.endswith(EXTENSION_SUFFIXES[0])
    assert type(Adaptive(1)._kernel).__module__ == "detectors.adaptive_step"
    # the tail's score takes its log10 natively where the C library's is fdlibm's (glibc's)
    if platform.libc_ver()[0] == "glibc":
        assert import_module("detectors._tail")._SPLIT


@compiled_only
def test_compiled_and_python_modules_answer_the_same_bit_for_bit() -> None:
    fast_which, fast = _in_process("")
    slow_which, slow = _in_process("python")
    assert (fast_which, slow_which) == (COMPILED, "python (ANOMALY_KERNEL=python)")
    assert fast.keys() == slow.keys()
    for workload, expected in slow.items():
        got = fast[workload]
        assert len(got) == len(expected), workload
        for k, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert a == b, f"{workload}: entry {k} differs"
    # the workloads reach what they are meant to: flags and change points, incidents opened
    # and resolved, insights
    adaptive = [line for line in slow["adaptive 0"] if line.startswith("([")]
    assert sum(line.count("True") for line in adaptive) > 10
    assert any(not line.endswith("())") for line in adaptive)
    blocks = "\n".join(slow["adaptive blocks 0"])
    assert "True" in blocks and ": ((" in blocks  # flags and change points
    walks = "\n".join(slow["threshold walks 0"])
    assert walks.count("True") > 100  # flags
    for name in ENGINE_CONFIGS:
        text = "\n".join(slow[f"engine {name}"])
        assert '"event":"open"' in text and '"event":"resolve"' in text, name
    assert '"forecast"' in "\n".join(slow["engine holt-winters"])


@compiled_only
def test_the_doctests_and_the_tests_of_python_internals_pass_as_python() -> None:
    """The compiled modules keep no docstrings, and tests that swap a module's internals for
    their plain forms (marked ``python_modules``) only reach Python code: both run here, in a
    process that runs the Python modules."""
    sources = [str(kernel.source_path(name).relative_to(ROOT)) for name in kernel.MODULES]
    tests = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests" / "unit").glob("test_*.py")
        if path.name != "test_kernel.py" and "pytest.mark.python_modules" in path.read_text()
    )
    for args in (sources, ["-m", "python_modules", *tests]):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:randomly", *args],
            cwd=ROOT,
            env={**os.environ, "ANOMALY_KERNEL": "python"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:]
        assert " passed" in done.stdout
    assert len(tests) >= 3


def test_a_build_older_than_its_sources_or_a_python_choice_runs_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths, which = kernel.choose("python")
    assert (paths, which) == ({}, "python (ANOMALY_KERNEL=python)")
    monkeypatch.setattr(kernel, "source_digest", lambda: "0" * 64)
    paths, which = kernel.choose("")
    assert paths == {}
    assert which in (
        "python (the compiled modules are older than their sources: make kernel)",
        "python (the compiled modules are not built: make kernel)",
    )
    code = "import incidents.scoring as s; print(s.__file__)"
    env = {**os.environ, "ANOMALY_KERNEL": "python"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(ROOT / "incidents" / "scoring.py")
