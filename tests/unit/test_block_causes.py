"""A block's root causes, written from its arrays, are those written point by point from signals."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.results import BlockResult
from incidents.causes import BlockCauses
from incidents.explain import explain
from incidents.incident import signals_for

# Scores with ties, zeros and non-finite ones; values and baselines with flat and missing ones.
SCORES = st.sampled_from([0.0, -0.0, 1.5, -1.5, 3.25, -7.0, 2e4, math.nan, math.inf, -math.inf])
NUMBERS = st.sampled_from([0.0, 1e-9, 0.05, 5.0, 100.0, 250.0, -40.0, 1e16, math.nan, math.inf])
PARTNERS = st.lists(
    st.tuples(st.sampled_from(["a", "b", "logs:m:x"]), st.sampled_from([0.95, -0.7, 0.61, 0.3])),
    max_size=7,
)


@st.composite
def blocks(draw: st.DrawFn) -> tuple[list[str], np.ndarray, BlockResult]:
    m, n = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))

    def grid() -> np.ndarray:
        return np.array(draw(st.lists(NUMBERS, min_size=m * n, max_size=m * n))).reshape(m, n)

    scores = np.array(draw(st.lists(SCORES, min_size=m * n, max_size=m * n))).reshape(m, n)
    ones = np.ones(m)
    block = BlockResult(ones, ones, ones > 0, ones > 0, scores, grid(), grid())
    return names, grid(), block


@settings(max_examples=300, deadline=None)
@given(
    data=blocks(),
    own=st.dictionaries(st.sampled_from(["a", "b", "c"]), PARTNERS, max_size=3),
    others=PARTNERS,
    detailed=st.booleans(),
)
def test_a_block_explains_each_row_as_its_signals_explain_it(
    data: tuple[list[str], np.ndarray, BlockResult],
    own: dict[str, list[tuple[str, float]]],
    others: list[tuple[str, float]],
    detailed: bool,
) -> None:
    names, rows, block = data
    details = [f"detail {k}" if k % 2 else "" for k in range(len(rows))] if detailed else None
    across = {name: others[: len(name) + 2] for name in names}  # each feature its own
    causes = BlockCauses(names, rows, block, own, across, details)
    for k, got in enumerate(causes.explain(range(len(rows)))):
        signals = signals_for(
            names,
            rows[k].tolist(),
            block.feature_scores[k].tolist(),
            list(zip(block.centers[k].tolist(), block.spreads[k].tolist(), strict=True)),
        )
        want = explain(signals, own, across.__getitem__, details[k] if details else "")
        assert got == want


def test_a_row_without_deviation_has_no_root_cause_but_its_detail() -> None:
    ones = np.ones(2)
    block = BlockResult(
        ones,
        ones,
        ones > 0,
        ones > 0,
        np.array([[0.0], [math.nan]]),
        np.ones((2, 1)),
        ones[:, None],
    )
    causes = BlockCauses(["cpu"], np.ones((2, 1)), block, {}, {}, ["", "new template"])
    assert causes.explain([0, 1]) == [("", ()), ("new template", ())]
