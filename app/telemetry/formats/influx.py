"""Influx line protocol, as Telegraf's ``kafka`` output writes it with ``data_format = "influx"``.

Per the line protocol reference
(https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/)::

    <measurement>[,<tag_key>=<tag_value>...] <field_key>=<field_value>[,...] [<timestamp>]

one point per line, ``#`` lines are comments; commas and spaces are escaped with a backslash in
the measurement, commas, equals signs and spaces in tag keys, tag values and field keys, double
quotes and backslashes inside string field values. A field value is a float (``1``, ``-1.5``,
``1e3``), an integer ``12i``, an unsigned integer ``12u``, a boolean (``t``, ``true``, ``F``...)
or a string ``"text"``; strings are not scored, booleans score as 1/0. The timestamp is in
nanoseconds (Telegraf's default precision); a line without one takes the message's time.

The feature name is the one Telegraf's Prometheus serializer gives
(``plugins/serializers/prometheus``): ``<measurement>_<field>``, or the field alone for the
measurement ``prometheus``, with characters outside ``[a-zA-Z0-9_:]`` replaced by ``_``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from functools import lru_cache

import numpy as np

from app.telemetry.formats import Column, Decoded, Sample, TelemetryError

_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_NUMBER_START = frozenset("+-.0123456789")
_INTEGER = re.compile(r"[+-]?\d+i")
_UNSIGNED = re.compile(r"\d+u")


@lru_cache(maxsize=4096)
def feature_name(measurement: str, field: str) -> str:
    """The Prometheus-style name of ``field`` of ``measurement``.

    >>> feature_name("cpu", "usage_idle"), feature_name("prometheus", "up")
    ('cpu_usage_idle', 'up')
    >>> feature_name("disk io", "read-bytes")
    'disk_io_read_bytes'
    """
    name = field if measurement == "prometheus" else f"{measurement}_{field}"
    return _INVALID.sub("_", name)


def decode(text: str, default_ts: float, counters: Collection[str] = ()) -> Decoded:
    """The samples of one or more lines; a line with a bad part is refused alone.

    ``counters`` names the features that are cumulative counts (Telegraf does not say).

    Examples
    --------
    >>> lines = '''cpu,cpu=cpu-total,host=h1 usage_idle=97.5,usage_user=1.5 1795766400000000000
    ... net,host=h1,interface=eth0 bytes_recv=1024i,up=true,name="eth 0" 1795766400000000000
    ... disk\\\\ io,host=h\\\\,2 reads=3u
    ... cpu,host=h1 usage_idle=12abc 1795766400000000000'''
    >>> out = decode(lines, default_ts=1795766401.0, counters={"net_bytes_recv"})
    >>> for s in out.samples:
    ...     print(s.name, s.ts, s.value, s.counter, dict(s.attributes))
    cpu_usage_idle 1795766400.0 97.5 False {'cpu': 'cpu-total', 'host': 'h1'}
    cpu_usage_user 1795766400.0 1.5 False {'cpu': 'cpu-total', 'host': 'h1'}
    net_bytes_recv 1795766400.0 1024.0 True {'host': 'h1', 'interface': 'eth0'}
    net_up 1795766400.0 1.0 False {'host': 'h1', 'interface': 'eth0'}
    disk_io_reads 1795766401.0 3.0 False {'host': 'h,2'}
    >>> out.errors
    ["line 4: field usage_idle has a bad value '12abc'"]

    Plain lines (no escapes, quotes or comments: what Telegraf writes for numeric fields) are
    read in bulk, a column of values at a time:

    >>> out = decode("m,host=h1 a=1,b=2i 10\\nm,host=h1 a=1.5,b=3i 20\\n", 0.0)
    >>> [(c.name, c.ts, c.values) for c in out.columns]
    [('m_a', [1e-08, 2e-08], [1.0, 1.5]), ('m_b', [1e-08, 2e-08], [2.0, 3.0])]
    """
    plain = _decode_plain(text, default_ts, counters)
    if plain is not None:
        return plain
    decoded = Decoded("influx")
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            samples = parse_line(line, default_ts, counters)
        except TelemetryError as exc:
            decoded.errors.append(f"line {number}: {exc}")
            continue
        for s in samples:
            decoded.add(s.name, s.ts, s.value, s.attributes, s.counter)
    return decoded


def _decode_plain(text: str, default_ts: float, counters: Collection[str]) -> Decoded | None:
    """The samples of a message of plain lines, read a column at a time; None when a line is
    not plain or not valid (then each line is read on its own, and a bad one refused alone).

    The sections of every line come from one split of the message; the lines of a series
    form a group; the field sets of a group are split in one go and,
    when every line has the same fields, each field's values are a slice of that split,
    converted per column (``float`` over the column, the grammar checked on the column); the
    timestamps likewise.
    """
    if not text.isascii() or "\\" in text or '"' in text or "#" in text or "\t" in text:
        return None
    text = text.strip("\n")
    lines = text.count("\n") + 1
    # Every line is "series fields stamp": the sections of all lines in one split. A line
    # with more or fewer sections shifts the others, which the checks below refuse (a
    # timestamp that is not digits, a field set that is not key=value).
    sections = text.replace("\n", " ").split(" ")
    if not text or len(sections) != 3 * lines:
        return None
    series, fields, stamps = sections[0::3], sections[1::3], sections[2::3]
    groups: dict[str, list[int]] | None = None
    if series.count(series[0]) != len(series):
        groups = {}
        for i, name in enumerate(series):
            groups.setdefault(name, []).append(i)
    decoded = Decoded("influx")
    for name, members in groups.items() if groups else [(series[0], None)]:
        try:
            measurement, tags = _series(name)
        except TelemetryError:
            return None
        group_fields = fields if members is None else [fields[i] for i in members]
        group_stamps = stamps if members is None else [stamps[i] for i in members]
        ts = _times(group_stamps)
        columns = _field_columns(group_fields)
        if ts is None or columns is None:
            return None
        for key, raw in columns:
            values = _column_values(key, raw)
            if values is None:
                return None
            feature = feature_name(measurement, key)
            decoded.add_column(Column(feature, tags, feature in counters, None, ts, values))
    return decoded


def _field_columns(fields: Sequence[str]) -> list[tuple[str, list[str]]] | None:
    """(key, raw values) per field of lines that all have the same field keys; else None.

    >>> _field_columns(["a=1,b=2", "a=3,b=4"])
    [('a', ['1', '3']), ('b', ['2', '4'])]
    >>> _field_columns(["a=1,b=2", "a=3"]) is None, _field_columns(["a=1=2"]) is None
    (True, True)
    """
    first = fields[0].replace("=", ",").split(",")
    width, n = len(first), len(fields)
    keys = first[0::2]
    if width & 1 or not all(keys) or fields[0].count("=") != len(keys):
        return None
    tokens = ",".join(fields).replace("=", ",").split(",")
    if len(tokens) != width * n:
        return None
    columns = []
    for j, key in enumerate(keys):
        if tokens[2 * j :: width].count(key) != n:
            return None
        columns.append((key, tokens[2 * j + 1 :: width]))
    return columns


def _times(stamps: Sequence[str]) -> list[float] | None:
    """The times of lines from their nanosecond timestamps; None for one that is not a
    plain non-negative integer."""
    if not "".join(stamps).isdigit() or "" in stamps:
        return None
    # float(text) rounds the integer as float(int(text)) does, and in C
    return (np.array(list(map(float, stamps))) / 1e9).tolist()  # type: ignore[no-any-return]


def _column_values(key: str, raw: list[str]) -> list[float] | None:
    """The values of one field over a group's lines; None when one is not a plain number,
    integer or boolean (a string, a bad value: the lines are then read one by one)."""
    try:
        values = list(map(float, raw))
    except ValueError:
        try:
            found = [_field_value(key, text) for text in raw]
        except TelemetryError:
            return None
        return None if None in found else found  # type: ignore[return-value]
    if "_" in "".join(raw) or not all(map(math.isfinite, values)):
        return None  # float() reads 1_000, nan and inf, which line protocol does not
    return values


def parse_line(line: str, default_ts: float, counters: Collection[str] = ()) -> list[Sample]:
    """The samples of one line (TelemetryError naming what is wrong)."""
    sections = _split(line, " ", quotes=True)
    if len(sections) not in (2, 3):
        raise TelemetryError("needs a measurement, a field set and an optional timestamp")
    measurement, tags = _series(sections[0])
    ts = default_ts
    if len(sections) == 3:
        stamp = sections[2]
        if not stamp.lstrip("-").isdigit():
            raise TelemetryError(f"timestamp {stamp!r} is not an integer of nanoseconds")
        ts = int(stamp) / 1e9
    samples = []
    for pair in _split(sections[1], ",", quotes=True):
        key, text = _pair(pair, "field", unescape_value=False)
        value = _field_value(key, text)
        if value is None:
            continue  # a string field
        name = feature_name(measurement, key)
        samples.append(Sample(name, ts, value, tags, name in counters))
    return samples


@lru_cache(maxsize=4096)
def _series(text: str) -> tuple[str, dict[str, str]]:
    """(measurement, tags) of a line's first section; a host's series repeat from one flush to
    the next, so they are parsed once (the tags are shared by the samples: not to be changed)."""
    series = _split(text, ",")
    measurement = _unescape(series[0])
    if not measurement:
        raise TelemetryError("has no measurement")
    tags: dict[str, str] = {}
    for pair in series[1:]:
        key, tag = _pair(pair, "tag")
        tags[key] = tag
    return measurement, tags


def _field_value(key: str, raw: str) -> float | None:
    if raw[-1:].isdigit() and "_" not in raw and raw[0] in _NUMBER_START:
        try:  # a float, the common case: float() in C, the grammar checked by what it refuses
            return _finite(key, float(raw))
        except ValueError:
            pass
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise TelemetryError(f"field {key} has an unterminated string")
        return None
    if raw in _TRUE or raw in _FALSE:
        return 1.0 if raw in _TRUE else 0.0
    if _INTEGER.fullmatch(raw) or _UNSIGNED.fullmatch(raw):
        return float(int(raw[:-1]))
    raise TelemetryError(f"field {key} has a bad value {raw!r}")


def _finite(key: str, value: float) -> float:
    if not math.isfinite(value):
        raise TelemetryError(f"field {key} has a value out of range")
    return value


def _pair(text: str, what: str, unescape_value: bool = True) -> tuple[str, str]:
    parts = _split(text, "=", quotes=what == "field", limit=1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise TelemetryError(f"{what} {text!r} is not key=value")
    value = _unescape(parts[1]) if unescape_value else parts[1]
    return _unescape(parts[0]), value


def _split(text: str, sep: str, quotes: bool = False, limit: int = -1) -> list[str]:
    """``text`` split at each ``sep`` that is neither escaped nor (with ``quotes``) inside a
    double-quoted string; escapes are kept."""
    if "\\" not in text and (not quotes or '"' not in text):
        return text.split(sep, limit)  # nothing escaped or quoted: the common case, in C
    parts: list[str] = []
    start, i, quoted = 0, 0, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if quotes and char == '"':
            quoted = not quoted
        elif char == sep and not quoted and (limit < 0 or len(parts) < limit):
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise TelemetryError("has an unterminated string")
    parts.append(text[start:])
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\([,= \\\"])", r"\1", text) if "\\" in text else text
