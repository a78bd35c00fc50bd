"""Pointwise detection metrics for a backtest against labelled points."""

from __future__ import annotations

from collections.abc import Sequence


def _ratio(numerator: int | float, denominator: int | float) -> float:
    return numerator / denominator if denominator else 0.0


def pointwise_metrics(
    predicted: Sequence[bool], labels: Sequence[int | bool]
) -> dict[str, float | int]:
    """Precision, recall, F1 and accuracy of per-point predictions against 0/1 labels.

    Each point counts once (no event-level or delay-tolerant matching). A ratio whose
    denominator is 0 is defined as 0.0: precision with no predicted anomaly, recall with no
    labelled anomaly, F1 when precision + recall is 0, accuracy of empty input.

    Parameters
    ----------
    predicted
        Whether each point was flagged.
    labels
        1 (or True) for an anomalous point, 0 (or False) for a normal one.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``accuracy`` (floats) and ``tp``, ``fp``, ``fn``,
        ``tn`` (ints).

    Raises
    ------
    ValueError
        If the sequences differ in length or a label is not 0/1.

    Examples
    --------
    >>> metrics = pointwise_metrics([True, True, False, False], [1, 0, 1, 0])
    >>> metrics["precision"], metrics["recall"], metrics["f1"], metrics["accuracy"]
    (0.5, 0.5, 0.5, 0.5)
    >>> metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"]
    (1, 1, 1, 1)
    >>> pointwise_metrics([False, False], [0, 0])["precision"]
    0.0
    >>> pointwise_metrics([True], [1, 0])
    Traceback (most recent call last):
    ...
    ValueError: predicted has 1 values but labels has 2; they must have the same length.
    """
    if len(predicted) != len(labels):
        raise ValueError(
            f"predicted has {len(predicted)} values but labels has {len(labels)}; "
            "they must have the same length."
        )
    tp = fp = fn = tn = 0
    for i, (flagged, label) in enumerate(zip(predicted, labels, strict=True)):
        if label not in (0, 1):
            raise ValueError(f"labels[{i}] must be 0 or 1, got {label!r}.")
        if flagged:
            if label:
                tp += 1
            else:
                fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }
