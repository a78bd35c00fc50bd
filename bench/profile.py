"""How much each measurement does: the full run (``make bench``) and ``--quick`` (a smoke run)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

_STARTED = time.monotonic()


def progress(message: str) -> None:
    """One progress line on stderr, with the seconds since the bench started."""
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Profile:
    """Sizes and repetitions. ``stream`` maps points per message to (messages, entities)."""

    name: str
    runs: int  # repetitions of the worker-based measurements (a fresh worker each)
    stream: dict[int, tuple[int, int]] = field(default_factory=dict)
    stream_cap_s: float = 15.0  # a worker is timed until its backlog is done, or this long
    latency_windows: int = 3
    latency_window_s: float = 10.0
    latency_warmup_s: float = 3.0
    latency_rates: tuple[int, ...] = (500, 1000)  # events/s, one paced stream each
    latency_spike_every: int = 25
    latency_late_s: float = 10.0  # wait this long after the last send for the last incidents
    score_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    score_runs: dict[int, int] = field(default_factory=dict)
    score_budget_s: float = 40.0  # per size: no further run once this much time went by
    memory_keys: int = 100_000
    memory_templates: int = 200
    memory_runs: int = 3
    detector_points: int = 20_000
    detector_runs: int = 5
    backtest_runs: int = 3
    backtest_jobs: tuple[int, ...] = (1, 0)  # 0: every core


FULL = Profile(
    name="full",
    runs=3,
    stream={1: (10_000, 50), 100: (2_000, 100), 1000: (500, 50)},
    score_runs={1_000: 7, 10_000: 5, 100_000: 3},
    stream_cap_s=10.0,
)

QUICK = Profile(
    name="quick",
    runs=1,
    stream={1: (3_000, 30), 100: (300, 50), 1000: (60, 10)},
    stream_cap_s=5.0,
    latency_windows=1,
    latency_window_s=5.0,
    latency_warmup_s=2.0,
    latency_late_s=5.0,
    score_sizes=(1_000, 10_000),
    score_runs={1_000: 3, 10_000: 2},
    score_budget_s=15.0,
    memory_keys=20_000,
    memory_templates=100,
    memory_runs=1,
    detector_points=5_000,
    detector_runs=2,
    backtest_runs=1,
    backtest_jobs=(1,),
)
