"""Which models take a decoded message's samples and records, for which entity, and the rows a
model scores: its features aligned by timestamp, counters as per-second rates.

A metrics model takes every sample whose name is one of its ``features``; its entity is the
first of the model's ``entity_from`` attributes the sample has (else the format's defaults,
:data:`incidents.formats.DEFAULT_ENTITY_FROM`). A logs model takes every record. Samples of one
model and entity at the same time make one row; a feature without a sample at that time is a
gap (NaN), so features that arrive in separate messages still reach a multi-feature model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from incidents.config import ModelConfig
from incidents.formats import DEFAULT_ENTITY_FROM, Decoded, Record, Sample, entity_of

MAX_RATE_SERIES = 1000  # counter series remembered per (model, entity); the oldest go first

# Per entity: per model id, the model and the samples (metrics) or records (logs) it takes.
Plan = dict[str, dict[str, tuple[ModelConfig, list[Any]]]]


def plan(decoded: Decoded, configs: Sequence[ModelConfig], stream: str) -> tuple[Plan, list[str]]:
    """Who takes what in ``decoded``: by entity, by model; and the reasons for what nobody
    could take (an item no model's entity attributes name). An item no model selects is not an
    error: collectors send far more series than models score.

    Examples
    --------
    >>> from incidents.formats import Decoded, Sample
    >>> cfg = ModelConfig("m", "1", "zscore", features=("load", "mem"))
    >>> out = Decoded("prometheus", samples=[
    ...     Sample("load", 0.0, 1.0, {"instance": "h1"}), Sample("mem", 0.0, 5.0, {"instance": "h2"}),
    ...     Sample("disk", 0.0, 9.0, {"instance": "h1"}), Sample("load", 0.0, 2.0, {"job": "x"})])
    >>> chosen, errors = plan(out, [cfg], "metrics")
    >>> {e: [(m, [s.name for s in items]) for m, (_, items) in by.items()] for e, by in chosen.items()}
    {'h1': [('m', ['load'])], 'h2': [('m', ['mem'])]}
    >>> errors
    ["model 'm': 1 sample(s) have none of the attributes instance to name an entity"]
    """
    chosen: Plan = defaultdict(dict)
    errors = []
    for config in configs:
        if config.stream != stream or (
            decoded.model_ids is not None and config.model_id not in decoded.model_ids
        ):
            continue
        if stream == "metrics":
            if not config.features:
                continue
            names = frozenset(config.features)
            items: Sequence[Sample | Record] = [s for s in decoded.samples if s.name in names]
        else:
            items = decoded.records
        names_entity = config.entity_from or DEFAULT_ENTITY_FROM.get(decoded.family, ())
        unnamed = 0
        for item in items:
            entity = decoded.entity or entity_of(item.attributes, names_entity)
            if entity is None:
                unnamed += 1
                continue
            chosen[entity].setdefault(config.model_id, (config, []))[1].append(item)
        if unnamed:
            errors.append(
                f"model {config.model_id!r}: {unnamed} {'sample' if stream == 'metrics' else 'record'}(s) "
                "have none of the attributes " + ", ".join(names_entity) + " to name an entity"
            )
    return dict(chosen), errors


def series_key(sample: Sample) -> str:
    """The name of a sample's series: its name and attributes.

    >>> series_key(Sample("cpu", 0.0, 1.0, {"host": "h1", "cpu": "cpu0"}))
    'cpu{cpu=cpu0,host=h1}'
    """
    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.attributes.items()))
    return f"{sample.name}{{{labels}}}"


def rate(previous: Sequence[float] | None, ts: float, value: float) -> float:
    """Per-second rate of a counter from its ``previous`` (ts, value); NaN for the first value
    or one not later than the previous. A counter that went down was reset (restarted from zero):
    its increase since is its value, as Prometheus' ``rate()`` counts it.

    >>> rate(None, 10.0, 5.0), rate([10.0, 5.0], 20.0, 25.0), rate([20.0, 25.0], 30.0, 4.0)
    (nan, 2.0, 0.4)
    >>> rate([20.0, 25.0], 20.0, 30.0)
    nan
    """
    if previous is None or ts <= previous[0]:
        return math.nan
    increase = value - previous[1]
    if increase < 0:
        increase = value
    return increase / (ts - previous[0])


def rows(
    samples: Sequence[Sample], config: ModelConfig, rates: Mapping[str, Any] | None
) -> tuple[list[float], list[list[float]], dict[str, Any]]:
    """(times, rows in the model's feature order, the counters' new memory) of a model's
    samples: one row per distinct time, a feature without a sample at that time a gap (NaN);
    counters (:attr:`Sample.counter`, or named in the model's ``counters``) as per-second
    rates against ``rates``, the last (ts, value) of each counter series.

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", features=("load", "requests_total"))
    >>> first = [Sample("load", 0.0, 1.5), Sample("requests_total", 0.0, 100.0, counter=True),
    ...          Sample("load", 10.0, 2.0)]
    >>> ts, values, memory = rows(first, cfg, None)
    >>> ts, values
    ([0.0, 10.0], [[1.5, nan], [2.0, nan]])
    >>> rows([Sample("requests_total", 10.0, 150.0, counter=True)], cfg, memory)[:2]
    ([10.0], [[nan, 5.0]])
    """
    index = {name: j for j, name in enumerate(config.features or ())}
    memory: dict[str, Any] = dict(rates or {})
    by_ts: dict[float, list[float]] = {}
    counters = frozenset(config.counters)
    for sample in sorted(samples, key=lambda s: s.ts):
        value = sample.value
        if sample.counter or sample.name in counters:
            key = series_key(sample)
            previous = memory.get(key)
            value = rate(previous, sample.ts, sample.value)
            if previous is None or sample.ts > previous[0]:
                memory.pop(key, None)  # re-inserted last: the dict keeps recency order
                memory[key] = [sample.ts, sample.value]
        row = by_ts.get(sample.ts)
        if row is None:
            row = by_ts[sample.ts] = [math.nan] * len(index)
        row[index[sample.name]] = value
    while len(memory) > MAX_RATE_SERIES:
        del memory[next(iter(memory))]
    times = list(by_ts)
    return times, [by_ts[t] for t in times], memory
