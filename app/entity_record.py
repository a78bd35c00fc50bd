"""One entity's row of the `entity_state` table, written once per message, atomically.

The row holds every model's key state for the entity, the entity's shared state (incident
lifecycle, correlation of its signals), the last source offset applied per topic-partition, and
the incident events of the last few messages. Because all of it is one changelog record:

- a message replayed after a crash (its offset at or below the applied one) is not applied
  again, so every point is applied to its key's state exactly once;
- the events of such a message are published again from the row, so none is lost if the worker
  died between writing the row and publishing them (a duplicate carries the same incident id and
  seq, and delivery dedups it).

The events are stored without what their other fields and the entity give
(:func:`incidents.compact.pack_event`), and those of the open incident without what the row's
incident holds (:func:`incidents.compact.refer`; whenever what they take from that incident
changes, they are referred to it again). Rows written before that keep their full events, and
both read back as the documents that were published.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from incidents.compact import (
    is_referred,
    pack_event,
    refer,
    reference_of,
    resolve,
    unpack_event,
    unpack_incident,
)

RECENT_EVENTS = 8  # messages with events whose events are kept for replays (a commit interval)


def source_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class EntityRecord:
    """Read access to a row, and the row to write after a message.

    Examples
    --------
    >>> row = EntityRecord(None)
    >>> row.applied("t:0", 5)
    False
    >>> new = row.updated("t:0", 5, {"m": {"points": 1}}, {"open": None}, [{"incident_id": "i"}])
    >>> again = EntityRecord(new)
    >>> again.applied("t:0", 5), again.applied("t:0", 6), again.model_state("m")
    (True, False, {'points': 1})
    >>> again.events_of("t:0", 5, "host-1")
    [{'incident_id': 'i'}]
    """

    def __init__(self, row: Mapping[str, Any] | None) -> None:
        self.row: Mapping[str, Any] = row or {}

    def applied(self, source: str, offset: int) -> bool:
        """Whether the message at ``offset`` of ``source`` was already applied."""
        last = self.row.get("offsets", {}).get(source)
        return last is not None and offset <= last

    def events_of(self, source: str, offset: int, entity: str) -> list[dict[str, Any]]:
        """The events the message at ``offset`` of ``source`` produced for ``entity`` (the row's
        key), if they are still kept."""
        for entry in self.row.get("recent", ()):
            if entry[0] == source and entry[1] == offset:
                incident = _open_incident(self.row)
                if incident is not None:
                    incident = unpack_incident(incident)
                return [unpack_event(resolve(e, incident), entity) for e in entry[2]]
        return []

    def model_state(self, model_id: str) -> Mapping[str, Any] | None:
        state = self.row.get("models", {}).get(model_id)
        return state if isinstance(state, Mapping) else None

    @property
    def shared(self) -> Mapping[str, Any] | None:
        shared = self.row.get("shared")
        return shared if isinstance(shared, Mapping) else None

    def updated(
        self,
        source: str | None,
        offset: int | None,
        models: Mapping[str, Mapping[str, Any]],
        shared: Mapping[str, Any] | None,
        events: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any]:
        """The row after a message: ``models`` (new key states by model id) and ``shared`` (the
        new shared state, or None to keep it) replace the old ones; the message's offset and
        events are recorded (``source`` None: a message without an offset to remember)."""
        row = dict(self.row)
        row["models"] = {**row.get("models", {}), **models}
        if shared is not None:
            row["shared"] = shared  # the very dict the scoring step wrote (see incidents.live)
        old_open, new_open = _open_incident(self.row), _open_incident(row)
        recent = row.get("recent", [])
        if recent and reference_of(new_open) != reference_of(old_open):
            recent = _referred_again(recent, old_open, new_open)
        if source is not None and offset is not None:
            row["offsets"] = {**row.get("offsets", {}), source: offset}
            if events:
                incident = unpack_incident(new_open) if new_open is not None else None
                stored = [refer(pack_event(e), incident) for e in events]
                recent = [*recent, [source, offset, stored]][-RECENT_EVENTS:]
        if recent:
            row["recent"] = recent
        return row


def _open_incident(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The row's open incident, as stored."""
    shared = row.get("shared")
    incident = shared.get("open") if isinstance(shared, Mapping) else None
    return incident if isinstance(incident, Mapping) else None


def _referred_again(
    recent: list[Any], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[Any]:
    """``recent`` with its events that were referred to the ``old`` open incident referred to
    the ``new`` one (None: no open incident) instead."""
    if not any(is_referred(e) for entry in recent for e in entry[2]):
        return recent
    before = unpack_incident(old) if old is not None else None
    after = unpack_incident(new) if new is not None else None
    return [
        [
            source,
            offset,
            [refer(resolve(e, before), after) if is_referred(e) else e for e in events],
        ]
        for source, offset, events in recent
    ]
