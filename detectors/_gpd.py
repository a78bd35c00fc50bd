"""The generalised Pareto tail of peaks over a threshold, shared by ``knn`` and ``budget``.

An excess ``y >= 0`` over a high threshold has, approximately, the survival function
``S(y) = (1 + shape * y / scale) ** (-1 / shape)``, and ``exp(-y / scale)`` for shape 0
(Pickands 1975, "Statistical inference using extreme order statistics"; the peaks-over-threshold
method of SPOT: Siffer et al. 2017, "Anomaly detection in streams with extreme value theory").
"""

from __future__ import annotations

import math

#: Below this shape the tail is taken as exponential (``log1p(shape * y / scale) / shape`` loses
#: its digits as the shape goes to 0, towards ``y / scale``).
SHAPE_EPS = 1e-6


def gpd_log_survival(excess: float, shape: float, scale: float) -> float:
    """``-ln S(excess)`` of the generalised Pareto tail (in nats; 0 at ``excess`` 0).

    Examples
    --------
    >>> gpd_log_survival(2.0, 0.0, 1.0)  # exponential: 2 scales, e^-2
    2.0
    >>> round(gpd_log_survival(2.0, 0.5, 1.0), 6)  # heavier: (1 + 1) ** -2
    1.386294
    """
    if shape > SHAPE_EPS:
        return math.log1p(shape * excess / scale) / shape
    return excess / scale


def gpd_excess_quantile(ratio: float, shape: float, scale: float) -> float:
    """The excess whose survival is ``ratio`` (in ``(0, 1]``): the inverse of
    :func:`gpd_log_survival`, SPOT's ``(scale / shape) * (ratio ** -shape - 1)``, and
    ``-scale * ln(ratio)`` for shape 0.

    Examples
    --------
    >>> round(gpd_excess_quantile(math.exp(-2.0), 0.0, 1.0), 12)
    2.0
    >>> gpd_excess_quantile(0.25, 0.5, 1.0)
    2.0
    """
    if shape > SHAPE_EPS:
        return scale / shape * (math.pow(ratio, -shape) - 1.0)
    return -scale * math.log(ratio)
