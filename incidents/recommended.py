"""The engine's recommended model: what a configuration without ``detector`` runs.

One configuration for every metric, tuned on half of the NAB dev corpus and reported on the
other half (docs/QUALITY.md). Fields the configuration gives win; ``params`` and ``suppression``
are merged.
A behaviour configuration (``"stream": "behavior"``) without ``detector`` gets ``graph_rarity``,
the one detector for behaviour events.

Examples
--------
>>> config = with_recommended({"model_id": "cpu", "params": {"threshold": 5.0}})
>>> config["detector"] == RECOMMENDED["detector"], config["params"]["threshold"]
(True, 5.0)
>>> with_recommended({"model_id": "m", "suppression": {"bypass_factor": 3}})["suppression"]
{'interval': 60.0, 'bypass_factor': 3}
>>> with_recommended({"model_id": "m", "detector": "zscore"})
{'model_id': 'm', 'detector': 'zscore'}
>>> with_recommended({"model_id": "b", "stream": "behavior"})["detector"]
'graph_rarity'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The recommended model's configuration (every field but ``model_id``): the ``adaptive``
#: detector with its defaults (a slow and a fast baseline, its own daily profile, a calibrated
#: tail, bounded learning and change points; a declared ``seasonality`` period, such as
#: ``{"period": 604800, "bins": 168}`` for a weekly cycle, is scored as residuals from its binned
#: profile, with all of that on the residuals (``detectors.owned_season``); ``"auto"`` is ignored:
#: adaptive finds a daily cycle itself, a weekly one must be declared), at
#: most one incident per 6 hours of event time per key, resolved after an hour back to normal;
#: its persistence (2 of 3, or one point at twice the threshold) is for points a minute apart, and
#: scaled in event time for keys sampled less often (``detectors.suppression``).
#: docs/QUALITY.md has its figures and how it was chosen.
RECOMMENDED: dict[str, Any] = {
    "detector": "adaptive",
    "cooldown": 21600.0,
    "resolve_after": 3600.0,
    "suppression": {"interval": 60.0},
}


def with_recommended(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with the recommended model filled in when it names no detector."""
    config = dict(data)
    if config.get("detector") is not None:
        return config
    if config.get("stream") == "behavior":
        config["detector"] = "graph_rarity"
        return config
    params = {**RECOMMENDED.get("params", {}), **(config.get("params") or {})}
    merged = {**RECOMMENDED, **{k: v for k, v in config.items() if v is not None}, "params": params}
    given = config.get("suppression")
    if given is None or isinstance(given, Mapping):
        merged["suppression"] = {**RECOMMENDED["suppression"], **(given or {})}
    return merged
