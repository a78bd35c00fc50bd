"""Prometheus samples as prometheus-kafka-adapter writes them (``SERIALIZATION_FORMAT=json``).

One JSON object per sample, as the adapter's README shows
(https://github.com/Telefonica/prometheus-kafka-adapter#json)::

    {"timestamp": "1970-01-01T00:00:00Z", "value": "9876543210", "name": "up",
     "labels": {"__name__": "up", "label1": "value1", "label2": "value2"}}

``value`` is text (Go's float formatting, so ``NaN`` and ``+Inf`` occur); ``__name__`` repeats
``name`` and is not a dimension. A JSON list of such objects is read as well. Counters follow the
Prometheus naming convention (https://prometheus.io/docs/practices/naming/): a name ending in
``_total`` is a cumulative counter, scored as a rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.telemetry.formats import Decoded, Sample, TelemetryError
from incidents.points import parse_ts

COUNTER_SUFFIX = "_total"


def looks_like(payload: object) -> bool:
    """Whether a JSON value is in the adapter's form (or a list of it).

    >>> looks_like({"timestamp": "1970-01-01T00:00:00Z", "value": "1", "name": "up", "labels": {}})
    True
    >>> looks_like({"entity": "h", "ts": 0, "values": [1]})
    False
    """
    first = payload[0] if isinstance(payload, list) and payload else payload
    return isinstance(first, Mapping) and "name" in first and "labels" in first


def decode(payload: Any) -> Decoded:
    """The samples of an adapter message; a sample with a bad value or time is refused alone.

    Examples
    --------
    >>> out = decode([
    ...     {"timestamp": "2026-11-27T08:00:00Z", "value": "0.5", "name": "node_load1",
    ...      "labels": {"__name__": "node_load1", "instance": "host-1", "job": "node"}},
    ...     {"timestamp": "2026-11-27T08:00:00Z", "value": "12", "name": "http_requests_total",
    ...      "labels": {"instance": "host-1"}},
    ...     {"timestamp": "2026-11-27T08:00:00Z", "value": "n/a", "name": "x", "labels": {}}])
    >>> [(s.name, s.value, s.counter, dict(s.attributes)) for s in out.samples]
    [('node_load1', 0.5, False, {'instance': 'host-1', 'job': 'node'}), ('http_requests_total', 12.0, True, {'instance': 'host-1'})]
    >>> out.errors
    ["sample 2 ('x'): value 'n/a' is not a number"]
    """
    items = payload if isinstance(payload, list) else [payload]
    decoded = Decoded("prometheus")
    # One object for the samples with the same labels, so that they share a column.
    shared: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
    for i, item in enumerate(items):
        try:
            s = _sample(item)
        except TelemetryError as exc:
            name = item.get("name") if isinstance(item, Mapping) else None
            decoded.errors.append(f"sample {i} ({name!r}): {exc}")
            continue
        attributes = shared.setdefault(tuple(s.attributes.items()), s.attributes)
        decoded.add(s.name, s.ts, s.value, attributes, s.counter)
    return decoded


def _sample(item: object) -> Sample:
    if not isinstance(item, Mapping):
        raise TelemetryError("is not an object")
    name = item.get("name")
    labels = item.get("labels")
    if not isinstance(name, str) or not name:
        raise TelemetryError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(labels, Mapping):
        raise TelemetryError("labels must be an object")
    raw = item.get("value")
    try:
        value = float(raw) if isinstance(raw, str | int | float) else math.nan
    except ValueError:
        raise TelemetryError(f"value {raw!r} is not a number") from None
    if isinstance(raw, bool) or not math.isfinite(value):
        raise TelemetryError(f"value {raw!r} is not a finite number")
    ts = parse_ts(item.get("timestamp"), "timestamp")
    attributes = {str(k): str(v) for k, v in labels.items() if k != "__name__"}
    return Sample(name, ts, value, attributes, name.endswith(COUNTER_SUFFIX))
