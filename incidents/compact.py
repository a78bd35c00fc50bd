"""Stored forms of incident documents that leave out what the rest of the document gives.

An entity's row keeps its open incident and the events of its last messages (to publish them
again when a message is replayed). Most of an event repeats itself: its dedup key is its id, its
status follows from its kind, ``opened_at`` is its ``ts`` as text, each signal's name is its
source, model and feature joined, and a signal mostly shares the model, source and time of its
incident. A stored form drops a field only when it equals what the kept fields give (same type
and value), and reading fills in exactly that, in the published field order, so a read gives
back the very document that was stored. Documents stored in full (older rows) read as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from incidents.incident import SCHEMA, iso_time
from incidents.stored_incident import restored

SIGNAL_FIELDS = (
    "signal",
    "model_id",
    "source",
    "feature",
    "value",
    "score",
    "center",
    "spread",
    "detail",
    "ts",
)
INCIDENT_FIELDS = (
    "incident_id",
    "model_id",
    "model_version",
    "source",
    "ts",
    "score",
    "threshold",
    "peak_score",
    "peak_ratio",
    "published_ratio",
    "opened_severity",
    "last_seen",
    "last_elevated",
    "signals",
    "models",
    "summaries",
    "alert_channels",
    "seq",
    "runs",
    "resolved_ts",
)
EVENT_FIELDS = (
    "schema",
    "event",
    "seq",
    "incident_id",
    "dedup_key",
    "status",
    "model_id",
    "model_version",
    "models",
    "entity",
    "source",
    "ts",
    "opened_at",
    "last_seen",
    "resolved_at",
    "score",
    "peak_score",
    "threshold",
    "severity",
    "opened_severity",
    "summary",
    "signals",
    "alert_channels",
)
_TAIL = "about"  # an event's summary without its "<model> on <entity>: " prefix
_FULL = "full"  # an event kept whole
_ENDED = "ended"  # marks an event referred to an incident that ended


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``1 == 1.0``, but not in JSON)."""
    return type(a) is type(b) and a == b


def _ordered(fields: tuple[str, ...], doc: Mapping[str, Any]) -> dict[str, Any]:
    ordered = {k: doc[k] for k in fields if k in doc}
    ordered.update((k, v) for k, v in doc.items() if k not in ordered)
    return ordered


def _signal_name(source: Any, model_id: Any, feature: Any) -> str:
    return f"{source}:{model_id}:{feature}"


def pack_signal(
    entry: Mapping[str, Any], model_id: object, source: object, ts: object
) -> dict[str, Any]:
    """``entry`` (a signal of an incident of ``model_id`` from ``source`` opened at ``ts``)
    without the fields those and its own fields give.

    Examples
    --------
    >>> entry = {"signal": "s:m:cpu", "model_id": "m", "source": "s", "feature": "cpu",
    ...          "value": 9.0, "score": 4.0, "center": 5.0, "spread": 1.0, "detail": None,
    ...          "ts": 60.0}
    >>> pack_signal(entry, "m", "s", 60.0)
    {'feature': 'cpu', 'value': 9.0, 'score': 4.0, 'center': 5.0, 'spread': 1.0}
    >>> unpack_signal(pack_signal(entry, "m", "s", 60.0), "m", "s", 60.0) == entry
    True
    >>> pack_signal(entry, "m", "logs", 0.0)["source"], pack_signal(entry, "m", "s", 0.0)["ts"]
    ('s', 60.0)
    """
    packed = dict(entry)
    for key, default in (("model_id", model_id), ("source", source), ("ts", ts)):
        if key in packed and _same(packed[key], default):
            del packed[key]
    if "detail" in packed and packed["detail"] is None:
        del packed["detail"]
    name = _signal_name(entry.get("source"), entry.get("model_id"), entry.get("feature"))
    if "signal" in packed and _same(packed["signal"], name):
        del packed["signal"]
    return packed


def unpack_signal(
    packed: Mapping[str, Any], model_id: object, source: object, ts: object
) -> dict[str, Any]:
    """The signal :func:`pack_signal` was given (a full entry comes back as it is)."""
    entry = dict(packed)
    entry.setdefault("model_id", model_id)
    entry.setdefault("source", source)
    entry.setdefault("detail", None)
    entry.setdefault("ts", ts)
    if "signal" not in entry:
        entry["signal"] = _signal_name(entry["source"], entry["model_id"], entry.get("feature"))
    return _ordered(SIGNAL_FIELDS, entry)


def _incident_defaults(incident: Mapping[str, Any]) -> dict[str, Any]:
    """What an open incident's fields are, most of the time, in terms of the ones before."""
    return {
        "peak_score": incident.get("score"),
        "published_ratio": incident.get("peak_ratio"),
        "last_seen": incident.get("ts"),
        "last_elevated": incident.get("last_seen", incident.get("ts")),
        "models": [incident.get("model_id")],
    }


def pack_incident(incident: Mapping[str, Any]) -> dict[str, Any]:
    """An open incident (``incidents.lifecycle`` state) without its fields that equal their
    usual values (the peak is the first score, ...), and with its signals packed.

    Examples
    --------
    >>> from incidents.lifecycle import EntityIncidents
    >>> from incidents.observation import LifecycleSpec, Observation
    >>> from incidents.incident import Signal
    >>> life = EntityIncidents("host-1")
    >>> for ts in (60.0, 70.0):
    ...     obs = Observation("m", "1", "s", ts, 9.0, 3.0, True, [Signal("cpu", 9.0, 4.0, 5.0, 1.0)])
    ...     _ = life.observe(obs, LifecycleSpec())
    >>> incident = life.open
    >>> packed = pack_incident(incident)
    >>> sorted(set(incident) - set(packed)), packed["signals"]
    (['last_elevated', 'models', 'peak_score', 'published_ratio'], [{'feature': 'cpu', 'value': 9.0, 'score': 4.0, 'center': 5.0, 'spread': 1.0}])
    >>> unpack_incident(pack_incident(incident)) == incident
    True
    """
    packed = dict(incident)
    for key, value in _incident_defaults(incident).items():
        if key in packed and _same(packed[key], value):
            del packed[key]
    packed["signals"] = [
        pack_signal(s, incident["model_id"], incident["source"], incident["ts"])
        for s in incident["signals"]
    ]
    return packed


def unpack_incident(packed: Mapping[str, Any]) -> dict[str, Any]:
    """The incident :func:`pack_incident` was given (a full one comes back as it is), also
    from the form a row stores (:mod:`incidents.stored_incident`)."""
    incident = restored(packed)
    for key in ("peak_score", "published_ratio", "last_seen", "last_elevated", "models"):
        if key not in incident:  # in this order: last_elevated defaults to last_seen
            incident[key] = _incident_defaults(incident)[key]
    incident["signals"] = [
        unpack_signal(s, incident["model_id"], incident["source"], incident["ts"])
        for s in incident["signals"]
    ]
    return _ordered(INCIDENT_FIELDS, incident)


def pack_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` (a document of the alerts topic) without what its other fields and its entity
    give. A packed event has no ``schema``; one of another schema, or without exactly the
    fields this module knows, is kept whole under ``full``.

    Examples
    --------
    >>> from incidents.lifecycle import EntityIncidents
    >>> from incidents.observation import LifecycleSpec, Observation
    >>> from incidents.incident import Signal
    >>> obs = Observation("m", "1", "s", 60.0, 9.0, 3.0, True, [Signal("cpu", 9.0, 4.0, 5.0, 1.0)],
    ...                   ["slack"], "cpu 4.0σ above baseline (9 vs 5±1)")
    >>> [event] = EntityIncidents("host-1").observe(obs, LifecycleSpec()).events
    >>> packed = pack_event(event)
    >>> sorted(packed)
    ['about', 'alert_channels', 'event', 'incident_id', 'model_id', 'model_version', 'score', 'seq', 'severity', 'signals', 'source', 'threshold', 'ts']
    >>> restored = unpack_event(packed, "host-1")
    >>> restored == event, list(restored) == list(event)
    (True, True)
    >>> pack_event({"incident_id": "i"}), unpack_event(pack_event({"incident_id": "i"}), "h")
    ({'full': {'incident_id': 'i'}}, {'incident_id': 'i'})
    """
    if event.get("schema") != SCHEMA or set(event) != set(EVENT_FIELDS):
        return {_FULL: dict(event)}
    packed = dict(event)
    del packed["schema"]
    model_id, entity = event.get("model_id"), event.get("entity")
    derived = {
        "dedup_key": event.get("incident_id"),
        "status": "resolved" if event.get("event") == "resolve" else "open",
        "models": [model_id],
        "opened_at": iso_time(ts) if isinstance(ts := event.get("ts"), int | float) else None,
        "last_seen": event.get("opened_at"),
        "peak_score": event.get("score"),
        "opened_severity": event.get("severity"),
    }
    for key, value in derived.items():
        if key in packed and _same(packed[key], value):
            del packed[key]
    if "resolved_at" in packed and packed["resolved_at"] is None:
        del packed["resolved_at"]
    if "entity" in packed and isinstance(entity, str):
        del packed["entity"]
        prefix = f"{model_id} on {entity}: "
        summary = packed.get("summary")
        if isinstance(summary, str) and summary.startswith(prefix):
            packed[_TAIL] = summary[len(prefix) :]
            del packed["summary"]
    if isinstance(event.get("signals"), list):
        packed["signals"] = [
            pack_signal(s, model_id, event.get("source"), event.get("ts")) for s in event["signals"]
        ]
    return packed


def unpack_event(packed: Mapping[str, Any], entity: str) -> dict[str, Any]:
    """The event :func:`pack_event` was given for ``entity`` (a full one, as older rows hold,
    comes back as it is)."""
    if "schema" in packed:
        return dict(packed)
    if _FULL in packed:
        return dict(packed[_FULL])
    event = dict(packed)
    event["schema"] = SCHEMA
    event.setdefault("dedup_key", event["incident_id"])
    event.setdefault("status", "resolved" if event["event"] == "resolve" else "open")
    event.setdefault("models", [event["model_id"]])
    event.setdefault("entity", entity)
    event.setdefault("opened_at", iso_time(event["ts"]))
    event.setdefault("last_seen", event["opened_at"])
    event.setdefault("resolved_at", None)
    event.setdefault("peak_score", event["score"])
    event.setdefault("opened_severity", event["severity"])
    if _TAIL in event:
        event["summary"] = f"{event['model_id']} on {event['entity']}: {event.pop(_TAIL)}"
    event["signals"] = [
        unpack_signal(s, event["model_id"], event["source"], event["ts"]) for s in event["signals"]
    ]
    return _ordered(EVENT_FIELDS, event)


def incident_summary(incident: Mapping[str, Any]) -> str:
    """The root-cause text of an incident's events (after "<model> on <entity>: "): each
    model's summary, those of other models than the opening one prefixed with their id.

    Examples
    --------
    >>> incident_summary({"model_id": "m", "summaries": {"m": "cpu high", "logs": "errors"}})
    'cpu high; logs: errors'
    """
    return "; ".join(
        text if model == incident["model_id"] else f"{model}: {text}"
        for model, text in incident["summaries"].items()
        if text
    )


# never change once open (an event's opened_severity, when pack_event kept it, is its incident's)
_FIXED = ("model_id", "model_version", "source", "ts", "threshold", "score", "opened_severity")
_GROWING = ("models", "signals", "alert_channels")  # only ever appended to while open
# Always in a packed event (``models`` is not: it is left out when it is the event's model), so
# a referred event without them has them all (rows written before kept their count).
_WHOLE = ("signals", "alert_channels")


def _growing(incident: Mapping[str, Any], key: str) -> list[Any]:
    """A copy of the incident's list ``key``, its signals packed as a packed event has them."""
    if key == "signals":
        signals: list[Any] = pack_incident(incident)["signals"]
        return signals
    return list(incident.get(key) or ())


_TIMES = ("last_seen", "resolved_at")  # ISO text in events; a referred one keeps the seconds


def _seconds(text: Any) -> float | None:
    """The seconds ``text`` is the :func:`iso_time` of, if it is one (None otherwise).

    >>> _seconds("2026-11-27T08:00:00.250Z"), _seconds("2026-11-27T08:00:00+00:00"), _seconds(1.0)
    (1795766400.25, None, None)
    """
    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    try:
        when = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    return when if iso_time(when) == text else None


def refer(
    packed: Mapping[str, Any],
    incident: Mapping[str, Any] | None,
    ended: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A packed event of the open ``incident`` (unpacked) without what that incident holds:
    its id, the fields fixed when it opened, the lists it only appends to (as how many of their
    first items the event has; the signals and channels left out when it has them all), its
    severity when it is the opening one, and the summary its summaries give; its last-seen and
    resolution times are kept as seconds instead of text. Other events (and a packed
    one of another incident) come back as they are; an event of the ``ended`` incident (one
    that is not open any more) is referred to that one, and marked so. :func:`resolve` with the
    same incidents undoes it. An entity's row keeps its events referred to its open incident and
    to the last one that ended, and refers them again whenever those change.

    Examples
    --------
    >>> from incidents.lifecycle import EntityIncidents
    >>> from incidents.observation import LifecycleSpec, Observation
    >>> from incidents.incident import Signal
    >>> life = EntityIncidents("host-1")
    >>> obs = Observation("m", "1", "s", 60.0, 9.0, 3.0, True, [Signal("cpu", 9.0, 4.0, 5.0, 1.0)],
    ...                   ["slack"], "cpu 4.0σ above baseline (9 vs 5±1)")
    >>> [event] = life.observe(obs, LifecycleSpec()).events
    >>> referred = refer(pack_event(event), life.open)
    >>> referred
    {'event': 'open', 'seq': 0}
    >>> unpack_event(resolve(referred, life.open), "host-1") == event
    True
    >>> referred = refer(pack_event(event), None, ended=life.open)  # once it has ended
    >>> referred["ended"], unpack_event(resolve(referred, None, life.open), "host-1") == event
    (1, True)
    """
    ident, referred = packed.get("incident_id"), dict(packed)
    if not isinstance(ident, str):
        return referred
    if incident is None or ident != incident.get("incident_id"):
        if ended is None or ident != ended.get("incident_id"):
            return referred
        incident, referred[_ENDED] = ended, 1
    del referred["incident_id"]
    for key in _FIXED:
        if key in referred and _same(referred[key], incident.get(key)):
            del referred[key]
    for key in _GROWING:
        items, known = referred.get(key), _growing(incident, key)
        if isinstance(items, list) and items == known[: len(items)]:
            referred[key] = len(items)
            if key in _WHOLE and len(items) == len(known):
                del referred[key]  # all of the incident's: what an absent count means
    if _same(referred.get("severity"), incident.get("opened_severity")):
        del referred["severity"]  # the usual: an event's severity is the opening one
    for key in _TIMES:
        when = _seconds(referred.get(key))
        if when is not None:
            referred[key] = when
    about = referred.get(_TAIL)
    if isinstance(about, str) and about and about == incident_summary(incident):
        del referred[_TAIL]
    return referred


def reference_of(incident: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """What :func:`refer` takes from an incident (stored or not): events referred to two
    incidents with the same reference read back the same. The rest (last seen, peak, ...)
    changes with most points of an open incident, its reference only with a new signal, model
    or summary.

    Examples
    --------
    >>> incident = {"incident_id": "i", "model_id": "m", "summaries": {"m": "cpu"}, "seq": 0}
    >>> reference_of(incident) == reference_of({**incident, "seq": 1, "last_seen": 9.0})
    True
    >>> reference_of(incident) == reference_of({**incident, "summaries": {"m": "cpu, mem"}})
    False
    """
    if incident is None:
        return None
    keys = ("incident_id", *_FIXED, *_GROWING, "summaries")
    return tuple(incident.get(key) for key in keys)


def is_referred(packed: Mapping[str, Any]) -> bool:
    """Whether ``packed`` is an event :func:`refer` referred to an incident."""
    return not ("incident_id" in packed or "schema" in packed or _FULL in packed)


def refers_to_ended(packed: Mapping[str, Any]) -> bool:
    """Whether ``packed`` is an event :func:`refer` referred to an ended incident."""
    return _ENDED in packed


def resolve(
    referred: Mapping[str, Any],
    incident: Mapping[str, Any] | None,
    ended: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The packed event :func:`refer` was given (one it left as it was comes back as it is)."""
    if not is_referred(referred):
        return dict(referred)
    packed = dict(referred)
    if packed.pop(_ENDED, None) is not None:
        incident = ended
    if incident is None:
        raise ValueError("an event refers to an incident the row does not hold")
    packed = {"incident_id": incident["incident_id"], **packed}
    for key in _FIXED:
        packed.setdefault(key, incident[key])
    for key in _GROWING:
        if isinstance(packed.get(key), int):
            packed[key] = _growing(incident, key)[: packed[key]]
        elif key in _WHOLE and key not in packed:
            packed[key] = _growing(incident, key)
    packed.setdefault("severity", incident["opened_severity"])
    for key in _TIMES:
        if type(packed.get(key)) is float:
            packed[key] = iso_time(packed[key])
    if _TAIL not in packed and "summary" not in packed:
        packed[_TAIL] = incident_summary(incident)
    return packed
