"""Every scenario and seed judged (:func:`run_scenarios`), and the table of the verdicts
(:func:`format_table`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from app.scenarios.judge import Verdict, judge
from app.scenarios.series import SCENARIOS, Scenario, scenario


def run_scenarios(
    score_fn: Callable[[Scenario], Sequence[bool]],
    seeds: Iterable[int],
    names: Sequence[str] = SCENARIOS,
) -> list[Verdict]:
    """Judge ``score_fn``'s alerts on each scenario of ``names`` with each seed, in that order.

    Examples
    --------
    >>> verdicts = run_scenarios(lambda s: [False] * len(s.ts), [0, 1], ["drift", "spike"])
    >>> [(v.name, v.seed, v.passed) for v in verdicts]
    [('drift', 0, True), ('drift', 1, True), ('spike', 0, False), ('spike', 1, False)]
    """
    seeds = list(seeds)
    verdicts = []
    for name in names:
        for seed in seeds:
            made = scenario(name, seed)
            verdicts.append(judge(made, list(score_fn(made))))
    return verdicts


def format_table(verdicts: Sequence[Verdict], title: str = "") -> str:
    """One row per scenario: seeds passed, windows detected, the largest delay, false alert
    points after the first day (the most of one seed), those in the last 500 points, graced
    alerts, and the first failing seed's reason (or the first seed's).

    Examples
    --------
    >>> verdicts = run_scenarios(lambda s: [False] * len(s.ts), [0, 1], ["drift", "spike"])
    >>> print(format_table(verdicts))
    scenario        pass  detected  max delay  false  in tail  graced  reason
    drift            2/2       0/0          -      0        0       0  pass: 0 false alert points
    spike            0/2       0/2          -      0        0       0  seed 0: missed the window at 3528 (no alert)
    passed 2/4
    """
    lines = [title] if title else []
    lines.append(
        f"{'scenario':14s} {'pass':>5s} {'detected':>9s} {'max delay':>10s} {'false':>6s} "
        f"{'in tail':>8s} {'graced':>7s}  reason"
    )
    names = list(dict.fromkeys(v.name for v in verdicts))
    for name in names:
        rows = [v for v in verdicts if v.name == name]
        failed = [v for v in rows if not v.passed]
        shown = failed[0] if failed else rows[0]
        delays = [d for v in rows for d in v.delays if d is not None]
        passed = f"{len(rows) - len(failed)}/{len(rows)}"
        detected = f"{sum(v.detected for v in rows)}/{sum(v.windows for v in rows)}"
        lines.append(
            f"{name:14s} {passed:>5s} {detected:>9s} "
            f"{max(delays) if delays else '-':>10} {max(v.false_alerts for v in rows):>6d} "
            f"{max(v.false_in_tail for v in rows):>8d} {max(v.graced for v in rows):>7d}  "
            + (f"seed {shown.seed}: {shown.reason}" if failed else shown.reason)
        )
    lines.append(f"passed {sum(v.passed for v in verdicts)}/{len(verdicts)}")
    return "\n".join(lines)
