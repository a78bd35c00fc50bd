"""The columnar path's speed-ups give what their plain forms give, to the last bit.

A message of many points for one key goes decode -> detector -> threshold -> suppression and
lifecycle -> insights -> state. Where that path has a faster form of a sequential loop (listed in
``REFERENCES``: the form, and the plain loop it must equal), the same messages are scored with
the fast forms and with the plain ones, and every point's outcome, every event, both states and
the counters must be equal, floats included. The stories are what an operator's metrics do:
normal data, spikes, a level shift, gaps in time, missing values, two features; under the
README's configuration and the recommended model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest

from api.schemas.config import README_CONFIG_EXAMPLE
from detectors import signal_correlation
from detectors.forecast import Holt, _Smoother
from detectors.thresholds import AdaptiveThreshold
from detectors.trend import TrendTracker
from incidents.config import ModelConfig
from incidents.recommended import with_recommended
from incidents.scoring import score_batch

START = 1_795_766_400.0


def _plain_stretch(self: AdaptiveThreshold, rows: Any, start: int, stop: int) -> tuple[int, bool]:
    return self._walk(rows, start, stop)


def _plain_trend_walk(self: TrendTracker, times: list[float], values: list[float]) -> bool:
    return [self._step(t, v) for t, v in zip(times, values, strict=True)][-1:] == [True]


def _plain_rest_sums(
    values: list[float], starts: list[int], sizes: list[int], means: list[float]
) -> list[float]:
    return [
        float((np.array(values[s + 1 : s + n]) - m).sum()) if n > 1 else 0.0
        for s, n, m in zip(starts, sizes, means, strict=True)
    ]


# (owner, attribute, the plain form it stands for)
REFERENCES: list[tuple[Any, str, Callable[..., Any]]] = [
    (AdaptiveThreshold, "_stretch", _plain_stretch),
    (TrendTracker, "_walk", _plain_trend_walk),
    (Holt, "learn_many", _Smoother.learn_many),
    (signal_correlation, "_rest_sums", _plain_rest_sums),
]

CONFIGS = {
    "readme": README_CONFIG_EXAMPLE["configs"][0],
    "recommended": with_recommended({"model_id": "m", "features": ["cpu", "mem"]}),
}


def _story(name: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ts = START + 10.0 * np.arange(n)
    rows = rng.normal([100.0, 5.0], [5.0, 1.0], size=(n, 2))
    if name == "spikes":
        at = rng.random(n) < 0.01
        rows[at, 0] += 60.0
    elif name == "level shift":
        rows[n // 2 :, 0] += 40.0
    elif name == "gaps":
        ts = START + np.cumsum(np.where(rng.random(n) < 0.02, 3600.0, 10.0))
    elif name == "missing values":
        rows[rng.random((n, 2)) < 0.05] = np.nan
        rows[rng.integers(0, n)] = np.nan
    return ts, rows


def _run(config: ModelConfig, messages: list[tuple[np.ndarray, np.ndarray]]) -> list[bytes]:
    """Each message through ``score_batch``, both states through JSON in between (as the worker
    keeps them); what a user sees of each, as JSON."""
    state: Any = None
    entity_state: Any = None
    seen = []
    for ts, rows in messages:
        out = score_batch(
            config, "host-1", state, ts.tolist(), rows.tolist(), entity_state=entity_state
        )
        state = orjson.loads(orjson.dumps(out.state)) if out.state is not None else state
        if out.entity_state is not None:
            entity_state = orjson.loads(orjson.dumps(out.entity_state))
        seen.append(
            orjson.dumps(
                {
                    "points": [p.to_dict() for p in out.points],
                    "events": out.events,
                    "state": out.state,
                    "entity_state": out.entity_state,
                    "counters": dict(sorted(out.counters.items())),
                },
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
        )
    return seen


@pytest.mark.python_modules
@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("story", ["normal", "spikes", "level shift", "gaps", "missing values"])
def test_the_columnar_path_gives_what_its_plain_loops_give(
    config_name: str, story: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ModelConfig.from_dict(CONFIGS[config_name])
    rng = np.random.default_rng(7)
    ts, rows = _story(story, 3000, rng)
    messages = [(ts[lo : lo + 1000], rows[lo : lo + 1000]) for lo in (0, 1000, 2000)]
    fast = _run(config, messages)
    for owner, attribute, plain in REFERENCES:
        monkeypatch.setattr(owner, attribute, plain)
    assert _run(config, messages) == fast
