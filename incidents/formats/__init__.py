"""Telemetry in the formats that collectors already write to Kafka, decoded into samples and
log records (pure: no Kafka, no Faust).

A decoder turns one message into a :class:`Decoded`: the numeric :class:`Sample` s (one feature
value of one series at one time, with every attribute that names its series: OTLP resource and
point attributes, Prometheus labels, Influx tags), the :class:`Record` s of a log stream, and the
reasons for the parts it refused (each refused part costs itself only). Which entity a sample
belongs to is decided later, per model configuration (``entity_from``), from its attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from incidents.telemetry import TelemetryError

__all__ = [
    "DEFAULT_ENTITY_FROM",
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
class Record:
    """One log record: its time, level (or None), text and attributes."""

    ts: float
    level: str | None
    message: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Decoded:
    """What one message held: its ``family`` (a key of :data:`DEFAULT_ENTITY_FROM`, or
    ``engine`` for the engine's own forms), its samples and log records, and the reasons for
    the parts refused."""

    family: str
    samples: list[Sample] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Set when the message names its entity itself (the engine's own forms): no entity_from.
    entity: str | None = None
    # A moved message's samples, already chosen: by (model id, series).
    planned: dict[tuple[str, str], list[Sample]] | None = None


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
