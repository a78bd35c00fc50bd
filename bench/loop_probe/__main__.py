"""Summarise a loop probe's file (see bench/loop_probe/sitecustomize.py).

usage: python -m bench.loop_probe FILE [FILE ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def summary(path: str) -> list[str]:
    with open(path) as f:
        found = json.load(f)
    lines = [path]
    for generation, (count, _wall, cpu) in enumerate(found["gc_totals"]):
        listed = [c for c in found["gc"] if c[1] == generation]
        longest = max((c[2] for c in listed), default=0.0)
        lines.append(
            f"  gc generation {generation}: {count} collections, {1000 * cpu:.0f} ms CPU in all, "
            f"longest {1000 * longest:.0f} ms"
        )
    for end, generation, wall, cpu, freed in found["gc"]:
        if generation == 2:
            lines.append(
                f"    full collection at {end - found['started']:.1f} s: {1000 * wall:.0f} ms "
                f"({1000 * cpu:.0f} ms CPU), {freed} objects freed"
            )
    by_task: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for _, wall, cpu, name in found["slow"]:
        by_task[name].append((wall, cpu))
    lines.append("  loop callbacks over 10 ms, by task:")
    for name, runs in sorted(by_task.items(), key=lambda kv: -sum(w for w, _ in kv[1]))[:8]:
        cpus = sorted(c for _, c in runs)
        lines.append(
            f"    {name}: {len(runs)}, longest {1000 * max(w for w, _ in runs):.0f} ms, "
            f"CPU median {1000 * cpus[len(cpus) // 2]:.1f} ms, max {1000 * cpus[-1]:.1f} ms"
        )
    if found["heap"]:
        _, sizes, frozen = found["heap"][-1]
        lines.append(f"  tracked objects by generation {sizes}, frozen {frozen}")
    return lines


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print("\n".join(summary(path)))
