"""The worker's allocator settings (app/worker/malloc_policy.py): the large blocks of one REST
request are served again to the next without the system handing out fresh pages (each a page
fault: a fifth of a 100,000-point request's CPU time with glibc's defaults)."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from typing import Any

import pytest

from app.worker import malloc_policy

try:
    ctypes.CDLL(None).mallopt  # noqa: B018
    GLIBC = True
except (OSError, AttributeError):
    GLIBC = False

# Three large blocks alive at once, as a request's body, its columns and its answer are, then
# freed; the page faults of each round.
_REQUESTS = """
import ctypes, json, resource, sys
from app.worker.malloc_policy import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "policy" else False
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [bytearray(20_000_000) for _ in range(3)]
    del blocks
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""


def _rounds(mode: str) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin"}  # no MALLOC_* setting of the test's own environment
    done = subprocess.run(
        [sys.executable, "-c", _REQUESTS, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PYTHONPATH": ":".join(sys.path)},
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt is not there")
def test_large_blocks_freed_are_served_again_without_page_faults() -> None:
    default, policy = _rounds("default"), _rounds("policy")
    pages = 3 * 20_000_000 // 4096
    assert policy["applied"] is True
    assert default["faults"][1] > pages // 2  # glibc's defaults: fresh pages
    assert max(policy["faults"][1:]) < pages // 20


def test_the_allocator_settings_of_the_environment_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert malloc_policy.keep_freed_memory() is False
