"""Which models take a decoded message's samples and records, for which entity and series, and
the rows a model scores: its features aligned by timestamp, counters as per-second rates.

A metrics model takes every sample whose name is one of its ``features`` and whose labels do not
contradict its ``where`` (a sample without one of its labels passes: a model may mix measurements); its entity is the first of the model's ``entity_from`` attributes the
sample has (else the format's defaults, :data:`app.telemetry.formats.DEFAULT_ENTITY_FROM`). The
sample's other labels name its series (``split_by`` picks the ones that do; ``[]``: none): each
series of a model is scored as its own key, ``<model_id>{label=value,...}``, so Telegraf's
``cpu=cpu0`` and ``cpu=cpu-total`` never mix. A logs model takes every record. Samples of one
series at the same time make one row; a feature without a sample at that time is a gap (NaN), so
features that arrive in separate messages still reach a multi-feature model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.telemetry.formats import (
    DEFAULT_ENTITY_FROM,
    TARGET_LABELS,
    Column,
    Decoded,
    Record,
    Sample,
    entity_of,
)
from incidents.config import ModelConfig

MAX_RATE_SERIES = 1000  # counters remembered per scored key; the oldest go first


@dataclass
class Share:
    """What one series of one model takes from a message: ``series`` is ``""`` or
    ``{label=value,...}``, ``items`` the samples (metrics) or records (logs)."""

    config: ModelConfig
    series: str
    items: list[Any]

    @property
    def points(self) -> int:
        """The samples (metrics) or records (logs) the share holds."""
        return sum(len(i.ts) if isinstance(i, Column) else 1 for i in self.items)

    @property
    def key(self) -> str:
        """The model id the series is scored under."""
        return self.config.model_id + self.series


# Per entity: per scored key (model id and series), what it takes.
Plan = dict[str, dict[str, Share]]


def series_of(sample: Sample | Column, config: ModelConfig, skip: frozenset[str]) -> str:
    """The series ``sample`` belongs to under ``config``: its labels but those in ``skip`` (the
    entity's and the target's), or those ``split_by`` names.

    >>> cfg = ModelConfig("m", "1", "zscore", features=("usage_idle",))
    >>> s = Sample("usage_idle", 0.0, 97.0, {"host": "h1", "cpu": "cpu0", "dc": "x"})
    >>> series_of(s, cfg, frozenset({"host"}))
    '{cpu=cpu0,dc=x}'
    >>> import dataclasses
    >>> series_of(s, dataclasses.replace(cfg, split_by=("cpu",)), frozenset({"host"}))
    '{cpu=cpu0}'
    >>> series_of(s, dataclasses.replace(cfg, split_by=()), frozenset({"host"}))
    ''
    """
    labels = sample.labels if sample.labels is not None else sample.attributes
    if not labels or config.split_by == ():
        return ""
    if config.split_by is None:
        chosen = sorted((k, v) for k, v in labels.items() if k not in skip)
    else:
        chosen = [(k, labels[k]) for k in config.split_by if k in labels]
    return "{" + ",".join(f"{k}={v}" for k, v in chosen) + "}" if chosen else ""


def plan(decoded: Decoded, configs: Sequence[ModelConfig], stream: str) -> tuple[Plan, list[str]]:
    """Who takes what in ``decoded``: by entity, by scored key; and the reasons for what nobody
    could take (an item no model's entity attributes name). An item no model selects is not an
    error: collectors send far more series than models score.

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", features=("load", "mem"))
    >>> out = Decoded("prometheus", samples=[
    ...     Sample("load", 0.0, 1.0, {"instance": "h1", "job": "node"}),
    ...     Sample("mem", 0.0, 5.0, {"instance": "h2"}),
    ...     Sample("disk", 0.0, 9.0, {"instance": "h1"}), Sample("load", 0.0, 2.0, {"job": "x"})])
    >>> chosen, errors = plan(out, [cfg], "metrics")
    >>> {e: [(k, [s.name for s in share.items]) for k, share in by.items()]
    ...  for e, by in chosen.items()}
    {'h1': [('m', ['load'])], 'h2': [('m', ['mem'])]}
    >>> errors
    ["model 'm': 1 sample(s) have none of the attributes instance to name an entity"]
    """
    if decoded.planned is not None:
        return _planned(decoded, configs, stream), []
    chosen: Plan = defaultdict(dict)
    errors = []
    for config in configs:
        if config.stream != stream:
            continue
        names_entity = config.entity_from or DEFAULT_ENTITY_FROM.get(decoded.family, ())
        skip = frozenset(names_entity) | TARGET_LABELS.get(decoded.family, frozenset())
        if stream == "metrics":
            if not config.features:
                continue
            names = frozenset(config.features)
            items: Sequence[Column | Record] = [c for c in decoded.columns if c.name in names]
            if config.where:
                where = config.where.items()
                items = [c for c in items if all(c.attributes.get(k, v) == v for k, v in where)]
        else:
            items = decoded.records
        unnamed = 0
        # The shares by the attribute dicts they come from: a decoder shares one dict between
        # the points of a resource or a series, so each is looked at once.
        shares: dict[tuple[int, int], Share | None] = {}
        for item in items:
            labels = item.labels if isinstance(item, Column) else None
            place = (id(item.attributes), id(labels))
            if place not in shares:
                shares[place] = _share(decoded, item, config, names_entity, skip, chosen)
            share = shares[place]
            if share is None:
                unnamed += len(item.ts) if isinstance(item, Column) else 1
            else:
                share.items.append(item)
        if unnamed:
            what = "sample" if stream == "metrics" else "record"
            errors.append(
                f"model {config.model_id!r}: {unnamed} {what}(s) have none of the attributes "
                + ", ".join(names_entity)
                + " to name an entity"
            )
    return dict(chosen), errors


def _share(
    decoded: Decoded,
    item: Column | Record,
    config: ModelConfig,
    names_entity: Sequence[str],
    skip: frozenset[str],
    chosen: Plan,
) -> Share | None:
    """The share ``item`` goes to (made when new), or None when nothing names its entity."""
    entity = decoded.entity or entity_of(item.attributes, names_entity)
    if entity is None:
        return None
    series = series_of(item, config, skip) if isinstance(item, Column) else ""
    by_key = chosen[entity]
    key = config.model_id + series
    if key not in by_key:
        by_key[key] = Share(config, series, [])
    return by_key[key]


def _planned(decoded: Decoded, configs: Sequence[ModelConfig], stream: str) -> Plan:
    """The plan a moved message carries, for the models that still exist."""
    by_id = {c.model_id: c for c in configs if c.stream == stream}
    entity = decoded.entity or ""
    chosen: dict[str, Share] = {}
    for (model_id, series), columns in (decoded.planned or {}).items():
        config = by_id.get(model_id)
        if config is not None:
            chosen[model_id + series] = Share(config, series, columns)
    return {entity: chosen} if chosen else {}


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
    columns: Sequence[Column], config: ModelConfig, rates: Mapping[str, Any] | None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(times, rows in the model's feature order, the counters' new memory) of a model's
    columns: one row per distinct time, in time order, a feature without a sample at that time
    a gap (NaN), a feature's last sample at a time its value there; counters
    (:attr:`Column.counter`, or named in the model's ``counters``) as per-second rates against
    ``rates``, the last (ts, value) of each counter series.

    Examples
    --------
    >>> cfg = ModelConfig("m", "1", "zscore", features=("load", "requests_total"))
    >>> first = Decoded("x", samples=[Sample("load", 0.0, 1.5),
    ...     Sample("requests_total", 0.0, 100.0, counter=True), Sample("load", 10.0, 2.0)])
    >>> ts, values, memory = rows(first.columns, cfg, None)
    >>> ts.tolist(), values.tolist()
    ([0.0, 10.0], [[1.5, nan], [2.0, nan]])
    >>> later = Decoded("x", samples=[Sample("requests_total", 10.0, 150.0, counter=True)])
    >>> [part.tolist() for part in rows(later.columns, cfg, memory)[:2]]
    [[10.0], [[nan, 5.0]]]
    """
    index = {name: j for j, name in enumerate(config.features or ())}
    memory: dict[str, Any] = dict(rates or {})
    counters = frozenset(config.counters)
    merged: dict[str, list[Column]] = {}
    for column in columns:
        merged.setdefault(column.name, []).append(column)
    aligned = _aligned(columns) if len(merged) == len(columns) else None
    if aligned is not None:  # a column per feature, all at the same increasing times
        table = np.full((len(aligned), len(index)), math.nan)
        for column in columns:
            values = np.asarray(column.values, dtype=float)
            if column.counter or column.name in counters:
                values = _rates(column.name, aligned, values, memory)
            table[:, index[column.name]] = values
        return aligned, table, _trimmed(memory)
    features: list[tuple[int, np.ndarray, np.ndarray]] = []
    for name, found in merged.items():
        ts = np.asarray([t for c in found for t in c.ts] if len(found) > 1 else found[0].ts)
        values = np.asarray(
            [v for c in found for v in c.values] if len(found) > 1 else found[0].values
        )
        order = np.argsort(ts, kind="stable")
        ts, values = ts[order], values[order]
        if found[0].counter or name in counters:
            # the scored key is one series: its counters have one name each
            values = _rates(name, ts, values, memory)
        last = np.append(ts[1:] != ts[:-1], True)  # a time's last sample is its value
        features.append((index[name], ts[last], values[last]))
    _trimmed(memory)
    if len(features) == 1:
        times = features[0][1]
    else:
        times = np.unique(np.concatenate([ts for _, ts, _ in features]))
    table = np.full((len(times), len(index)), math.nan)
    for j, ts, values in features:
        table[np.searchsorted(times, ts), j] = values
    return times, table, memory


def _aligned(columns: Sequence[Column]) -> np.ndarray | None:
    """The columns' times when they all have the same, in increasing order (the common
    case: the features of a point sent together); else None."""
    first = columns[0].ts if columns else None
    if first is None or any(c.ts is not first and c.ts != first for c in columns):
        return None
    times = np.asarray(first, dtype=float)
    return times if (times[1:] > times[:-1]).all() else None


def _trimmed(memory: dict[str, Any]) -> dict[str, Any]:
    """``memory`` without its oldest counters beyond :data:`MAX_RATE_SERIES`."""
    while len(memory) > MAX_RATE_SERIES:
        del memory[next(iter(memory))]
    return memory


def _rates(name: str, ts: np.ndarray, values: np.ndarray, memory: dict[str, Any]) -> np.ndarray:
    """A counter's per-second rates, in time order, from and into its ``memory`` entry."""
    out = np.empty(len(ts))
    previous = memory.get(name)
    for i, (t, value) in enumerate(zip(ts.tolist(), values.tolist(), strict=True)):
        out[i] = rate(previous, t, value)
        if previous is None or t > previous[0]:
            previous = [t, value]
    if previous is not None:
        memory.pop(name, None)  # re-inserted last: the dict keeps recency order
        memory[name] = previous
    return out
