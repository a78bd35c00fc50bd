"""Telemetry in the formats that collectors already write to Kafka, decoded into samples and
log records (pure: no Kafka, no Faust).

A decoder turns one message into a :class:`Decoded`: the numeric samples by :class:`Column` (the
values of one feature of one series and their times, with every attribute that names the
series: OTLP resource and point attributes, Prometheus labels, Influx tags), the :class:`Record` s of a log stream, and the
reasons for the parts it refused (each refused part costs itself only). Which entity a sample
belongs to is decided later, per model configuration (``entity_from``), from its attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from incidents.points import TelemetryError

__all__ = [
    "DEFAULT_ENTITY_FROM",
    "NO_LABELS",
    "Column",
    "Decoded",
    "Record",
    "Sample",
    "TelemetryError",
    "entity_of",
]

# The attributes that name a sample's entity, first present wins, by format family.
DEFAULT_ENTITY_FROM: Mapping[str, tuple[str, ...]] = {
    "otlp": ("host.name", "service.instance.id", "service.name"),
    "prometheus": ("instance",),
    "influx": ("host",),
    "loglines": ("host",),
}
# The labels of a sample whose attributes are all its resource's (one object: one column).
NO_LABELS: Mapping[str, str] = MappingProxyType({})
# Labels that name the scrape target rather than a series of it: never a series dimension.
TARGET_LABELS: Mapping[str, frozenset[str]] = {"prometheus": frozenset({"job"})}


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a third more to build
class Sample:
    """One value of feature ``name`` at ``ts`` (epoch seconds); ``counter`` when the value is a
    cumulative count (scored as a per-second rate). ``attributes`` are all the names the sample
    came with (what ``entity_from`` and ``where`` read); ``labels`` those that name its series
    (None: the same as ``attributes``; an OTLP point's own attributes, not its resource's)."""

    name: str
    ts: float
    value: float
    attributes: Mapping[str, str] = field(default_factory=dict)
    counter: bool = False
    labels: Mapping[str, str] | None = None


@dataclass(slots=True)
class Column:
    """The samples of one feature of one series in a message, as two lists: what decoders
    build and models take (a message holds thousands of samples and a few columns)."""

    name: str
    attributes: Mapping[str, str]
    counter: bool
    labels: Mapping[str, str] | None
    ts: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Record:
    """One log record: its time, level (or None), text and attributes."""

    ts: float
    level: str | None
    message: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class Decoded:
    """What one message held: its ``family`` (a key of :data:`DEFAULT_ENTITY_FROM`, or
    ``engine`` for the engine's own forms), its samples by :class:`Column` and its log records,
    and the reasons for the parts refused. ``samples`` are added to their columns.

    Examples
    --------
    >>> host = {"host": "h1"}
    >>> out = Decoded("influx", samples=[Sample("load", 0.0, 1.0, host), Sample("mem", 0.0, 5.0, host)])
    >>> out.add("load", 10.0, 2.0, host)
    >>> [(c.name, c.ts, c.values) for c in out.columns], out.points
    ([('load', [0.0, 10.0], [1.0, 2.0]), ('mem', [0.0], [5.0])], 3)
    >>> out.samples[1]
    Sample(name='load', ts=10.0, value=2.0, attributes={'host': 'h1'}, counter=False, labels=None)
    """

    __slots__ = (
        "_index",
        "_labelled",
        "columns",
        "entity",
        "errors",
        "family",
        "planned",
        "records",
    )

    def __init__(
        self,
        family: str,
        samples: Iterable[Sample] = (),
        records: list[Record] | None = None,
        errors: list[str] | None = None,
        entity: str | None = None,
    ) -> None:
        self.family = family
        self.columns: list[Column] = []
        self.records = records if records is not None else []
        self.errors = errors if errors is not None else []
        # Set when the message names its entity itself (the engine's own forms): no entity_from.
        self.entity = entity
        # A moved message's columns, already chosen: by (model id, series).
        self.planned: dict[tuple[str, str], list[Column]] | None = None
        self._index: dict[tuple[str, int, int, bool], Column] = {}
        self._labelled: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[Any, Any]] = {}
        for s in samples:
            self.add(s.name, s.ts, s.value, s.attributes, s.counter, s.labels)

    def add(
        self,
        name: str,
        ts: float,
        value: float,
        attributes: Mapping[str, str],
        counter: bool = False,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """One sample, added to the column of its name and attribute objects (a decoder shares
        one attributes object between the samples of a series)."""
        key = (name, id(attributes), id(labels), counter)
        column = self._index.get(key)
        if column is None:
            column = self._index[key] = Column(name, attributes, counter, labels)
            self.columns.append(column)
        column.ts.append(ts)
        column.values.append(value)

    def labelled(
        self, resource: Mapping[str, str], labels: Mapping[str, str]
    ) -> tuple[Mapping[str, str], Mapping[str, str]]:
        """(attributes, labels) of a point with its own ``labels`` under ``resource``: the same
        objects for every point of the message with the same labels, so they share a column.

        >>> out, resource = Decoded("otlp"), {"host.name": "h1"}
        >>> first = out.labelled(resource, {"cpu": "0"})
        >>> first, out.labelled(resource, {"cpu": "0"}) is first
        (({'host.name': 'h1', 'cpu': '0'}, {'cpu': '0'}), True)
        """
        key = (id(resource), tuple(labels.items()))
        found = self._labelled.get(key)
        if found is None:
            found = self._labelled[key] = ({**resource, **labels}, labels)
        return found

    def add_column(self, column: Column) -> None:
        """A whole column (its samples in no other column)."""
        self.columns.append(column)

    @property
    def points(self) -> int:
        """The samples and records decoded."""
        return sum(len(c.ts) for c in self.columns) + len(self.records)

    @property
    def samples(self) -> list[Sample]:
        """Every sample, column by column (for reading a message, not for the hot path)."""
        return [
            Sample(c.name, t, v, c.attributes, c.counter, c.labels)
            for c in self.columns
            for t, v in zip(c.ts, c.values, strict=True)
        ]


def entity_of(attributes: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The value of the first of ``names`` that ``attributes`` has (non-empty), else None.

    Examples
    --------
    >>> entity_of({"service.name": "api", "host.name": "h1"}, DEFAULT_ENTITY_FROM["otlp"])
    'h1'
    >>> entity_of({"service.name": "api"}, DEFAULT_ENTITY_FROM["otlp"])
    'api'
    >>> entity_of({"job": "node"}, ["instance"]) is None
    True
    """
    for name in names:
        value = attributes.get(name)
        if value:
            return value
    return None
