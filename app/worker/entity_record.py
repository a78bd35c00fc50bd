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

A row carries its format version (``v``, :data:`ROW_VERSION`; a row without one is version 1)
and, for the expiry timer (``app.worker.expiry``), when the worker last received a message for the
entity (``heard``, the worker's clock) and for each model (``seen``), the resolve events of
silent incidents (and the opens of absences) until the broker has them (``outbox``), the open
absence incidents by model (``absent``, see ``incidents.absence``) and when its last model
state went (``emptied``). A row of a newer version
is read by the fields this version knows; the others are kept as they are when it is written
again (``app.worker.engine`` counts such rows, and resets a model's state it cannot read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from incidents.compact import (
    is_referred,
    pack_event,
    refer,
    reference_of,
    refers_to_ended,
    resolve,
    unpack_event,
    unpack_incident,
)
from incidents.live import LiveState

ROW_VERSION = 4  # 1: no version field; 2: ``heard``, ``seen`` and ``outbox`` (issue 18);
# 3: the open incident's ``runs`` (incidents.keep_firing; a row without them reads as none);
# 4: ``absent`` (incidents.absence; a row without it has no absence open)
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
                ended = _unpacked(self.row.get("ended"))
                return [unpack_event(resolve(e, incident, ended), entity) for e in entry[2]]
        return []

    @property
    def version(self) -> int:
        """The row's format version (1 for a row without one, or an unreadable one).

        >>> EntityRecord(None).version, EntityRecord({"v": 3, "future": [1]}).version
        (1, 3)
        """
        version = self.row.get("v", 1)
        return version if isinstance(version, int) and not isinstance(version, bool) else 1

    def model_state(self, model_id: str) -> Mapping[str, Any] | None:
        state = self.row.get("models", {}).get(model_id)
        return state if _is_mapping(state) else None

    @property
    def shared(self) -> Mapping[str, Any] | None:
        shared = self.row.get("shared")
        return shared if _is_mapping(shared) else None

    def updated(
        self,
        source: str | None,
        offset: int | None,
        models: Mapping[str, Mapping[str, Any]],
        shared: Mapping[str, Any] | None,
        events: Sequence[Mapping[str, Any]],
        heard: float | None = None,
    ) -> dict[str, Any]:
        """The row after a message: ``models`` (new key states by model id) and ``shared`` (the
        new shared state, or None to keep it) replace the old ones; the message's offset and
        events are recorded (``source`` None: a message without an offset to remember).
        ``heard``: when the worker received the message (its clock), recorded for the entity
        and for each model of ``models``."""
        row = dict(self.row)
        row["v"] = ROW_VERSION
        row["models"] = {**row.get("models", {}), **models}
        if models:
            row.pop("emptied", None)  # see app.worker.expiry
        if heard is not None:
            row["heard"] = heard
            seen = row.get("seen")
            row["seen"] = {
                **(seen if _is_mapping(seen) else {}),
                **dict.fromkeys(models, heard),
            }
        if shared is not None:
            row["shared"] = shared  # the very dict the scoring step wrote (see incidents.live)
        old_open, new_open = _open_incident(self.row), _open_incident(row)
        ended = row.get("ended")
        recent = row.get("recent", [])
        if new_open is not old_open and reference_of(new_open) != reference_of(old_open):
            recent, ended = _referred_again(recent, old_open, new_open, ended)
        if source is not None and offset is not None:
            row["offsets"] = {**row.get("offsets", {}), source: offset}
            if events:
                incident, last_ended = _unpacked(new_open), _unpacked(ended)
                stored = [refer(pack_event(e), incident, last_ended) for e in events]
                recent = [*recent, [source, offset, stored]][-RECENT_EVENTS:]
        referring = _count_ended(recent) if ended is not None else 0
        if referring == 1:  # keeping the ended incident would take more than it saves
            recent = _referred_again(recent, new_open, new_open, ended, keep_ended=False)[0]
        if referring < 2:
            ended = None
        if recent:
            row["recent"] = recent
        if ended is not None:
            row["ended"] = ended
        else:
            row.pop("ended", None)
        return row


def _count_ended(recent: list[Any]) -> int:
    count = 0
    for entry in recent:  # a loop, not sum() over a generator: at every message
        for e in entry[2]:
            if refers_to_ended(e):
                count += 1
    return count


def _unpacked(incident: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return unpack_incident(incident) if incident is not None else None


def _open_incident(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The row's open incident, as stored."""
    shared = row.get("shared")
    incident = shared.get("open") if _is_mapping(shared) else None
    return incident if incident is not None and _is_mapping(incident) else None


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, without the ABC's check for a dict or for the states the
    scoring step writes (``incidents.live.LiveState``)."""
    return type(value) is dict or type(value) is LiveState or isinstance(value, Mapping)


def _referred_again(
    recent: list[Any],
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    ended: Mapping[str, Any] | None,
    keep_ended: bool = True,
) -> tuple[list[Any], Mapping[str, Any] | None]:
    """``recent`` with its events referred to the ``new`` open incident (None: none is open)
    instead of the ``old`` one, and the last ended incident: ``old`` if it ended (its events are
    referred to it as such), else ``ended`` (with ``keep_ended`` False: none). Events of an
    incident that is neither come back whole (packed)."""
    was_ended = ended
    if not keep_ended:
        ended = None
    elif old is not None and (new is None or new.get("incident_id") != old.get("incident_id")):
        ended = old
    if not any(is_referred(e) for entry in recent for e in entry[2]):
        return recent, ended
    before, after = _unpacked(old), _unpacked(new)
    ended_before, ended_after = _unpacked(was_ended), _unpacked(ended)
    again = [
        [
            source,
            offset,
            [
                refer(resolve(e, before, ended_before), after, ended_after) if is_referred(e) else e
                for e in events
            ],
        ]
        for source, offset, events in recent
    ]
    return again, ended
