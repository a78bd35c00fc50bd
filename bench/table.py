"""The bench's one table: a row per figure, its median and range, its target, pass or miss."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.summary import Summary

UNITS = ("rate", "ms", "us", "bytes", "ratio", "times", "s")


def fmt(value: float, unit: str) -> str:
    """A number in the table's style for ``unit`` (one of :data:`UNITS`).

    Examples
    --------
    >>> fmt(25312.4, "rate"), fmt(0.5, "ratio"), fmt(12.345, "ms"), fmt(1234.0, "ms")
    ('25,312/s', '50.0 %', '12.3 ms', '1,234 ms')
    >>> fmt(1.2345, "us"), fmt(1843.2, "bytes"), fmt(4.06, "s"), fmt(float("inf"), "ms")
    ('1.23 µs', '1,843 B', '4.06 s', '∞')
    >>> fmt(float("nan"), "rate"), fmt(12.68, "times"), fmt(2.619, "times")
    ('-', '12.7×', '2.62×')
    """
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "∞"
    if unit == "rate":
        return f"{value:,.0f}/s"
    if unit == "ratio":
        return f"{100 * value:.1f} %"
    if unit == "times":
        return f"{value:,.1f}×" if abs(value) >= 10 else f"{value:.2f}×"
    if unit == "ms":
        return f"{value:,.0f} ms" if abs(value) >= 100 else f"{value:.1f} ms"
    if unit == "us":
        return f"{value:.2f} µs"
    if unit == "bytes":
        return f"{value:,.0f} B"
    return f"{value:.2f} s"


@dataclass(frozen=True)
class Target:
    """A bound the median must meet: ``op`` is ">=" or "<=".

    Examples
    --------
    >>> t = Target("<=", 100.0)
    >>> t.met(99.0), t.met(101.0), t.met(float("nan"))
    (True, False, False)
    >>> t.describe("ms")
    '≤ 100 ms'
    """

    op: str
    bound: float

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"op must be '>=' or '<=', got {self.op!r}")

    def met(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value >= self.bound if self.op == ">=" else value <= self.bound

    def describe(self, unit: str) -> str:
        sign = "≥" if self.op == ">=" else "≤"
        text = fmt(self.bound, unit)
        if unit == "ms" and self.bound < 100:
            text = f"{self.bound:g} ms"
        return f"{sign} {text}"


@dataclass(frozen=True)
class Row:
    """One figure: what was measured, how it came out over the runs, and what it is held to.

    A row without a ``summary`` was not measured; ``note`` then says why. With a summary, a
    ``note`` qualifies the median (e.g. samples that never arrived).
    """

    group: str
    name: str
    unit: str
    summary: Summary | None = None
    target: Target | None = None
    note: str = ""

    @classmethod
    def of(
        cls,
        group: str,
        name: str,
        unit: str,
        values: Sequence[float],
        target: Target | None = None,
        failures: Sequence[str] = (),
    ) -> Row:
        """A row from the runs that worked; ``failures`` are the reasons of those that did not.

        Examples
        --------
        >>> Row.of("1", "x", "rate", [1.0, 3.0], failures=["timeout"]).cells()[2]
        '2/s (1 of 3 runs failed: timeout)'
        >>> Row.of("1", "x", "rate", [], failures=["timeout", "timeout"]).cells()[2]
        'error: timeout'
        """
        runs = len(values) + len(failures)
        if not values:
            return cls(
                group,
                name,
                unit,
                target=target,
                note=f"error: {failures[0] if failures else 'no run'}",
            )
        note = f"{len(failures)} of {runs} runs failed: {failures[0]}" if failures else ""
        return cls(group, name, unit, Summary.of(values), target, note)

    @property
    def verdict(self) -> str:
        """ "pass", "miss", "" (no target) or "not measured"."""
        if self.summary is None:
            return "not measured"
        if self.target is None:
            return ""
        return "pass" if self.target.met(self.summary.median) else "miss"

    def cells(self) -> list[str]:
        if self.summary is None:
            median, spread = self.note or "not measured", ""
        else:
            median = fmt(self.summary.median, self.unit)
            if self.note:
                median += f" ({self.note})"
            if self.summary.runs > 1:
                spread = (
                    f"{fmt(self.summary.low, self.unit)} – {fmt(self.summary.high, self.unit)}"
                    f" ({self.summary.runs} runs)"
                )
            else:
                spread = "1 run"
        target = self.target.describe(self.unit) if self.target else ""
        return [self.group, self.name, median, spread, target, self.verdict]


HEADER = ["#", "measurement", "median", "min – max", "target", "result"]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table, columns padded so it also reads as plain text.

    Examples
    --------
    >>> rows = [Row("3", "p99 latency", "ms", Summary.of([80.0, 90.0, 120.0]), Target("<=", 100)),
    ...         Row("7", "backtest", "s", note="not measured: backtest command missing")]
    >>> print(format_table(rows))
    | # | measurement | median                                 | min – max                 | target   | result       |
    |---|-------------|----------------------------------------|---------------------------|----------|--------------|
    | 3 | p99 latency | 90.0 ms                                | 80.0 ms – 120 ms (3 runs) | ≤ 100 ms | pass         |
    | 7 | backtest    | not measured: backtest command missing |                           |          | not measured |
    """
    table = [HEADER, *([_escape(c) for c in row.cells()] for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(table[0]), rule, *(line(cells) for cells in table[1:])])
