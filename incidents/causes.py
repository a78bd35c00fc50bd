"""Root causes of a scored block's flagged rows, written from the block's arrays.

``explain(signals_for(...))`` (``incidents.explain``) writes one point's root cause from
:class:`~incidents.incident.Signal` objects, ranked by ``sorted``; a dry run of a large request
answers thousands of flagged rows, and building, sorting and describing those objects one row
at a time was most of its cost. :class:`BlockCauses` gives the same texts and partners: the
ranking is done by numpy for all rows at once, and each feature's "moving with" clause once
per block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from detectors.results import BlockResult
from incidents.incident import numeric_clause
from incidents.rootcause import MIN_PARTNER_R

Partners = tuple[tuple[str, float], ...]
Cause = tuple[str, Partners]

CLAUSES = 3  # deviant signals named per root cause (``rootcause.describe``'s limit)


def top_features(feature_scores: np.ndarray) -> np.ndarray:
    """Per row, the index of the signal a root cause starts with (the first feature of largest
    finite, non-zero |score|), -1 where there is none.

    Examples
    --------
    >>> nan, inf = float("nan"), float("inf")
    >>> top_features(np.array([[1.0, -3.0], [2.0, 2.0], [nan, 0.0], [inf, 1.0]])).tolist()
    [1, 0, -1, 1]
    """
    if feature_scores.shape[1] == 0:
        return np.full(len(feature_scores), -1)
    size = np.abs(feature_scores)
    size = np.where(np.isfinite(size), size, 0.0)
    return np.where(size.max(axis=1) > 0.0, np.argmax(size, axis=1), -1)


class BlockCauses:
    """The root causes of rows of one scored block, as ``explain(signals_for(...))`` writes
    them row by row.

    ``partners``: per feature, the features of the same model that move with it; ``across``:
    for each feature that starts a root cause (see :func:`top_features`), the entity's other
    signals that move with it. Both as they were when the block was scored: they are kept, so
    the root causes read later are those of that moment.

    Examples
    --------
    >>> block = BlockResult(score=np.array([6.0]), threshold=np.array([3.0]),
    ...     is_anomaly=np.array([True]), warm=np.array([True]),
    ...     feature_scores=np.array([[6.0, 0.5]]), centers=np.array([[50.0, 10.0]]),
    ...     spreads=np.array([[8.0, 2.0]]))
    >>> causes = BlockCauses(["cpu", "load"], np.array([[98.0, 11.0]]), block,
    ...                      {"cpu": [("load", 0.9)]}, {"cpu": [("logs:m:errors", 0.8)]})
    >>> causes.explain([0])
    [('cpu 6.0σ above baseline (98 vs 50±8), moving with load (r=0.90), logs:m:errors (r=0.80); load 0.5σ above baseline (11 vs 10±2)', (('load', 0.9), ('logs:m:errors', 0.8)))]
    """

    def __init__(
        self,
        names: Sequence[str],
        rows: np.ndarray,
        block: BlockResult,
        partners: Mapping[str, Sequence[tuple[str, float]]],
        across: Mapping[str, Sequence[tuple[str, float]]],
        details: Sequence[str] | None = None,
    ) -> None:
        self.names = list(names)
        self.rows = rows
        self.block = block
        self.partners = partners
        self.across = across
        self.details = details
        self._moved: dict[tuple[str, str | None], str] = {}
        self._correlated: dict[str, Partners] = {}

    def _merged(self, feature: str, top: str | None) -> list[tuple[str, float]]:
        """The partners named for ``feature`` in a root cause that starts with ``top``."""
        merged = list(self.partners.get(feature, ()))
        if feature == top:
            merged += list(self.across[top])
        return merged

    def _moving_with(self, feature: str, top: str | None) -> str:
        key = (feature, top)
        text = self._moved.get(key)
        if text is None:
            moved = [
                f"{name} (r={r:.2f})"
                for name, r in self._merged(feature, top)
                if abs(r) >= MIN_PARTNER_R
            ]
            text = ", moving with " + ", ".join(moved[:3]) if moved else ""
            self._moved[key] = text
        return text

    def _correlated_with(self, top: str) -> Partners:
        found = self._correlated.get(top)
        if found is None:
            found = self._correlated[top] = tuple(self._merged(top, top)[:5])
        return found

    def explain(self, ks: Sequence[int] | np.ndarray) -> list[Cause]:
        """The root cause and the partners of the top signal of each row of ``ks``."""
        ks = np.asarray(ks, dtype=np.intp)
        if not len(ks):
            return []
        block, names, details = self.block, self.names, self.details
        scores = block.feature_scores[ks]
        ranks = np.where(np.isfinite(scores), -np.abs(scores), 1.0)  # missing ones last
        orders = np.argsort(ranks, axis=1, kind="stable")[:, :CLAUSES].tolist()
        tops = top_features(scores).tolist()
        columns = zip(
            ks.tolist(),
            tops,
            orders,
            scores.tolist(),
            self.rows[ks].tolist(),
            block.centers[ks].tolist(),
            block.spreads[ks].tolist(),
            strict=True,
        )
        causes: list[Cause] = []
        isfinite, moving_with = math.isfinite, self._moving_with
        for k, t, order, z, x, center, spread in columns:
            top = names[t] if t >= 0 else None
            clauses = []
            for i in order:
                score, value, c, s = z[i], x[i], center[i], spread[i]
                if score == 0.0 or not isfinite(score):
                    continue
                clause = numeric_clause(
                    names[i],
                    value if isfinite(value) else None,
                    score,
                    c if isfinite(c) else None,
                    s if isfinite(s) else None,
                )
                clauses.append(clause + moving_with(names[i], top))
            text = "; ".join(clauses)
            detail = details[k] if details else ""
            if detail:
                text = f"{text}; {detail}" if text else detail
            causes.append((text, self._correlated_with(top) if top is not None else ()))
        return causes
