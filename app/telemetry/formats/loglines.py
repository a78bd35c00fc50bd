"""JSON log lines as Fluent Bit's and Vector's Kafka outputs write them.

Fluent Bit's ``kafka`` output with ``Format json`` writes the record's keys (``log`` holds the
line) plus its time under ``Timestamp_Key`` (``@timestamp`` by default, epoch seconds as a
double, or ISO-8601 with ``Timestamp_Format iso8601``):
https://docs.fluentbit.io/manual/pipeline/outputs/kafka. Vector's ``kafka`` sink with
``encoding.codec = "json"`` writes the log event's fields: ``message``, ``timestamp`` (RFC 3339),
``host`` and ``source_type``: https://vector.dev/docs/reference/configuration/sinks/kafka/.

The text is ``log`` or ``message``; the time ``time``, ``timestamp``, ``@timestamp`` or ``date``
(the message's own time when none); the level ``level`` or ``severity``. Every other scalar
field is an attribute, so ``host`` (the default entity) or any other field can name the entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.telemetry.formats import Decoded, Record
from incidents.points import TelemetryError, parse_ts

TEXT_KEYS = ("log", "message")
TIME_KEYS = ("time", "timestamp", "@timestamp", "date")
LEVEL_KEYS = ("level", "severity")


def looks_like(payload: object) -> bool:
    """Whether a JSON value is a collector's log line (and not the engine's own form).

    >>> looks_like({"log": "GET / 200", "host": "web-1"}), looks_like({"entity": "e", "message": "x"})
    (True, False)
    """
    return (
        isinstance(payload, Mapping)
        and "entity" not in payload
        and any(isinstance(payload.get(k), str) for k in TEXT_KEYS)
    )


def decode(payload: Any, default_ts: float) -> Decoded:
    """The record of one log line (or of each line of a JSON list).

    Examples
    --------
    >>> decode({"@timestamp": 1795766400.25, "log": "disk full", "level": "ERROR",
    ...         "host": "web-1", "kubernetes": {"pod": "p"}}, 0.0).records
    [Record(ts=1795766400.25, level='error', message='disk full', attributes={'host': 'web-1'})]
    >>> decode({"message": "ok", "timestamp": "2026-11-27T08:00:00Z", "host": "web-2"}, 0.0).records
    [Record(ts=1795766400.0, level=None, message='ok', attributes={'host': 'web-2'})]
    >>> decode([{"log": "x", "time": "yesterday"}], 0.0).errors
    ["line 0: time 'yesterday' is neither ISO-8601 nor epoch seconds"]
    """
    decoded = Decoded("loglines")
    for i, line in enumerate(payload if isinstance(payload, list) else [payload]):
        try:
            decoded.records.append(_record(line, default_ts))
        except TelemetryError as exc:
            decoded.errors.append(f"line {i}: {exc}")
    return decoded


def _record(line: object, default_ts: float) -> Record:
    if not isinstance(line, Mapping):
        raise TelemetryError("a log line must be a JSON object")
    text = next((line[k] for k in TEXT_KEYS if isinstance(line.get(k), str)), None)
    if text is None:
        raise TelemetryError("has neither log nor message text")
    ts = default_ts
    for key in TIME_KEYS:
        if line.get(key) is not None:
            ts = parse_ts(line[key], key)
            break
    level = next((line[k] for k in LEVEL_KEYS if isinstance(line.get(k), str)), None)
    skip = {*TEXT_KEYS, *TIME_KEYS, *LEVEL_KEYS}
    attributes = {
        str(k): str(v)
        for k, v in line.items()
        if k not in skip and isinstance(v, str | int | float) and not isinstance(v, bool)
    }
    return Record(ts, level.lower() if level else None, text, attributes)
