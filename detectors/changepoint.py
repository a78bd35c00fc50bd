"""Change points: when a run of flagged points is a new normal, and what the new baseline is.

A model learns a flagged point with bounded weight only (see :mod:`detectors.model`), so a spike
does not drag its baseline; but a level that moved for good (a deploy, a configuration change)
would then keep alerting for a long time. :class:`ChangePoint` watches the flags:

- a decaying count of flagged points, ``count <- count * (1 - 1 / memory) + flagged`` per learned
  point, set to 0 once below 0.5 (a CUSUM of the flags, Page 1954, with the decay as its drift
  allowance: a rate of flags above about ``runs / memory`` accumulates, isolated ones fade);
- while a run is on (``count >= 0.5``) the learned rows are kept, the last ``keep`` of them, with
  the baseline the run started from (``origin``);
- when the count reaches ``runs`` at a flagged point, the run is a change point. A feature whose
  flagged values lie mostly on one side of the origin moved: its new baseline is the median of
  its flagged values, and the spread the larger of the old one and their scaled MAD (the run may
  have started with points of the old level). Otherwise its spread rose: the median and scaled
  MAD of all the run's values, the spread never below the old one (a variance that fell is
  learned by the detector as usual). The model re-baselines its detector on it and the incident
  says "level shift: 100 → 150";
- for ``memory * 2`` points after a change point, a point the new baseline flags but the run's
  origin would not (a burst that ended, a deploy rolled back) returns the model to the origin.

Examples
--------
>>> cp = ChangePoint(1, runs=3, memory=10)
>>> cp.learned([10.0], flagged=False, centers=[10.0], spreads=[1.0])
>>> for v in [50.0, 51.0, 49.0]:   # the count: 1, 1.9, 2.71
...     cp.learned([v], flagged=True, centers=[10.0], spreads=[1.0])
>>> cp.triggered(), len(cp.run)
(False, 3)
>>> cp.learned([50.0], flagged=True, centers=[10.0], spreads=[1.0])
>>> round(cp.count, 3), cp.triggered()
(3.439, True)
>>> cp.new_baseline([(30.0, 1.0)])   # median of the run; its MAD (0.74) is below the spread
[(50.0, 1.0)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from detectors._checks import finite_or_none, require_int
from detectors._robust import median_and_scaled_mad
from detectors.base import DetectorError

#: Below this count no run is on (an isolated flag has faded after about ``0.7 * memory`` points).
RUN_FLOOR = 0.5
#: Values a feature needs in a run to get a new baseline from it.
MIN_RUN_VALUES = 3


class ChangePoint:
    """The flag count, the current run and the post-change window of one model.

    Parameters
    ----------
    n_features
        Number of features.
    runs
        Decaying count of flagged points that makes a change point, at least 2 (a run of
        flags in a row reaches 8 at its 10th point with the default ``memory``).
    memory
        Points over which a flag's weight decays by ``1/e``, at least 2.
    keep
        Most recent rows of a run kept to estimate the new baseline, at least ``runs``.
    """

    def __init__(self, n_features: int, runs: int = 8, memory: int = 30, keep: int = 32) -> None:
        self.n_features = n_features
        self.runs = require_int("change_point.runs", runs, 2)
        self.memory = require_int("change_point.memory", memory, 2)
        self.keep = require_int("change_point.keep", keep, self.runs)
        self.decay = 1.0 - 1.0 / self.memory
        self.count = 0.0
        self.run: list[list[float]] = []
        self.flags: list[bool] = []  # per row of the run, whether it was flagged
        self.origin: list[tuple[float, float]] | None = None
        self.previous: list[tuple[float, float]] | None = None  # baseline before the last change
        self.since = 0  # learned points since the last change

    # ------------------------------------------------------------------ per point

    def learned(
        self,
        row: Sequence[float],
        flagged: bool,
        centers: Sequence[float],
        spreads: Sequence[float],
    ) -> None:
        """Count one learned row (its values before any winsorising); ``centers`` and
        ``spreads`` are the baseline it was scored against, the run's origin if it starts one."""
        if not flagged and self.count == 0.0:
            self._tick(1)
            return
        self.count = self.count * self.decay + (1.0 if flagged else 0.0)
        self._tick(1)
        if self.count >= RUN_FLOOR:
            if not self.run:
                self.origin = [(float(c), float(s)) for c, s in zip(centers, spreads, strict=True)]
            self.run.append([float(v) for v in row])
            self.flags.append(flagged)
            del self.run[: -self.keep]
            del self.flags[: -self.keep]
        else:
            self.count = 0.0
            self._end_run()

    def quiet(self, rows: np.ndarray) -> None:
        """:meth:`learned` of unflagged ``rows`` in order (a loop only while a count fades)."""
        n = len(rows)
        for k in range(n):
            if self.count == 0.0:
                break
            self.count *= self.decay
            if self.count >= RUN_FLOOR:
                self.run.append(rows[k].tolist())
                self.flags.append(False)
                del self.run[: -self.keep]
                del self.flags[: -self.keep]
            else:
                self.count = 0.0
                self._end_run()
        self._tick(n)

    def _tick(self, n: int) -> None:
        if self.previous is not None:
            self.since += n
            if self.since > 2 * self.memory:
                self.previous, self.since = None, 0

    def _end_run(self) -> None:
        self.run = []
        self.flags = []
        self.origin = None

    # ------------------------------------------------------------------ change points

    def triggered(self) -> bool:
        """Whether the count reached ``runs`` (checked after a flagged row)."""
        return self.count >= self.runs and len(self.run) >= MIN_RUN_VALUES

    def new_baseline(self, current: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        """Per feature ``(center, spread)`` from the run (``current``, the run's origin, where
        it has too few values): see the module's docstring."""
        rows = np.array(self.run, dtype=float).reshape(len(self.run), self.n_features)
        flagged = np.array(self.flags, dtype=bool)
        out = []
        for i, (center, spread) in enumerate(current):
            finite = np.isfinite(rows[:, i])
            values = rows[finite, i]
            if len(values) < MIN_RUN_VALUES or not math.isfinite(center):
                out.append((center, spread))
                continue
            moved = rows[finite & flagged, i]
            if len(moved) >= MIN_RUN_VALUES and abs(np.sign(moved - center).mean()) >= 0.5:
                values = moved
            median, mad = median_and_scaled_mad(values.tolist())
            out.append((median, max(spread, mad)))
        return out

    def changed(self, fallback: Sequence[tuple[float, float]]) -> None:
        """Start the post-change window: the run's origin (else ``fallback``) is kept for a
        return, and the count and the run start afresh."""
        self.previous = list(self.origin) if self.origin is not None else list(fallback)
        self.since = 0
        self.count = 0.0
        self._end_run()

    def reverted(self) -> None:
        """The model went back to :attr:`previous`: the post-change window ends."""
        self.previous, self.since, self.count = None, 0, 0.0
        self._end_run()

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any] | None:
        """JSON-serialisable state; None while nothing is going on (the usual case, so a quiet
        key stores nothing for it)."""
        if self.count == 0.0 and not self.run and self.previous is None:
            return None
        state: dict[str, Any] = {"count": self.count}
        if self.run:
            state["run"] = [[finite_or_none(v) for v in row] for row in self.run]
            state["flags"] = "".join("1" if f else "0" for f in self.flags)
        if self.origin is not None:
            state["origin"] = [[finite_or_none(c), finite_or_none(s)] for c, s in self.origin]
        if self.previous is not None:
            state["previous"] = [[finite_or_none(c), finite_or_none(s)] for c, s in self.previous]
            state["since"] = self.since
        return state

    @classmethod
    def from_state(
        cls,
        n_features: int,
        state: Mapping[str, Any] | None,
        runs: int = 8,
        memory: int = 30,
        keep: int = 32,
    ) -> ChangePoint:
        """Rebuild from :meth:`to_state` (None: fresh).

        Examples
        --------
        >>> cp = ChangePoint(1, runs=3)
        >>> cp.learned([5.0], flagged=True, centers=[1.0], spreads=[1.0])
        >>> ChangePoint.from_state(1, cp.to_state(), runs=3).to_state() == cp.to_state()
        True
        """
        cp = cls(n_features, runs, memory, keep)
        if not state:
            return cp
        try:
            cp.count = float(state["count"])
            cp.run = [
                [math.nan if v is None else float(v) for v in row] for row in state.get("run", [])
            ]
            cp.flags = [c == "1" for c in state.get("flags", "1" * len(cp.run))]
            if any(len(row) != n_features for row in cp.run) or len(cp.flags) != len(cp.run):
                raise ValueError
            if state.get("origin") is not None:
                cp.origin = [(_float(c), _float(s)) for c, s in state["origin"]]
            if state.get("previous") is not None:
                cp.previous = [(_float(c), _float(s)) for c, s in state["previous"]]
                cp.since = int(state.get("since", 0))
        except (KeyError, TypeError, ValueError):
            raise DetectorError(f"change point state is malformed: {dict(state)!r}") from None
        return cp


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)
