"""What the clock does to an entity's row: silent incidents resolve, idle model state goes.

Both are measured on the worker's clock (``time.time()``) from the last message received for the
entity (the row's ``heard``) or for the model (its ``seen``), never from event time, so data
back-filled with old timestamps does not expire on arrival. Per model configuration:

- ``silent_after``: the entity's open incident resolves (its ``resolve`` event carries
  ``"resolution": "silent"``) once the entity has sent nothing for the ``silent_after`` of the
  incident's model. It resolves as of its last elevated point, in event time, as a dismissal does.
- ``state_ttl``: a model's state of the entity is removed once the model has had nothing of it
  for that long; the row goes (a tombstone on the changelog) once no model holds state in it,
  no incident is open and nothing waits in its outbox.

- ``expect_every``: a model that has had nothing of the entity for that long opens an absence
  incident (``incidents.absence``), kept in the row's ``absent`` until the entity's next message
  to the model (``app.worker.engine``) or the expiry of the model's state resolves it.

A resolve event (or an absence's open) is kept in the row's ``outbox`` until the broker has it
(``app.worker.sweeper``), so a worker that dies in between publishes it again after the restart (a
duplicate has the same incident id and seq: delivery dedups it). A row written before rows
recorded ``heard`` is stamped with the time the timer first meets it. 0 turns any setting off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.worker.entity_record import EntityRecord
from incidents.absence import EXPIRED, absence_event, went_silent
from incidents.config import SILENT_AFTER, STATE_TTL, ModelConfig
from incidents.lifecycle import EntityIncidents

SILENT = "silent"  # the resolution of an incident whose entity went silent


@dataclass
class Swept:
    """What a sweep did to one row.

    ``row``: the row to write (None: delete it), meaningful when ``changed``; ``outbox``: the
    resolve events waiting in the row to be published; ``expired``: the models whose state went;
    ``models``: the models whose state the row still holds.
    """

    row: dict[str, Any] | None
    changed: bool = False
    outbox: list[dict[str, Any]] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


def _settings(config: ModelConfig | None) -> tuple[float, float]:
    if config is None:  # a model no longer configured: the defaults
        return SILENT_AFTER, STATE_TTL
    return config.silent_after, config.state_ttl


def soonest(configs: Iterable[ModelConfig]) -> float:
    """The shortest positive ``silent_after``, ``state_ttl`` or ``expect_every`` among
    ``configs`` and the defaults (which apply to models no longer configured): a row heard from
    more recently than that, by the entity and every model in it, has nothing due
    (:func:`sweep_row`'s fast path).

    >>> soonest([ModelConfig.from_dict({"model_id": "m", "detector": "ewma", "silent_after": 0,
    ...                                 "state_ttl": 120})])
    120.0
    """
    spans = [SILENT_AFTER, STATE_TTL]
    spans += [
        span for c in configs for span in (c.silent_after, c.state_ttl, c.expect_every) if span > 0
    ]
    return min(spans)


def sweep_row(
    entity: str,
    row: Mapping[str, Any],
    now: float,
    config_of: Callable[[str], ModelConfig | None],
    nothing_before: float = 0.0,
) -> Swept:
    """The row of ``entity`` at ``now`` (the worker's clock, in seconds since the epoch).
    ``nothing_before``: :func:`soonest` of the configurations, to skip a row with nothing due
    without looking further (most rows, most of the time; 0: always look).

    Examples
    --------
    >>> from app.worker.entity_record import EntityRecord
    >>> from incidents.lifecycle import EntityIncidents
    >>> from incidents.observation import LifecycleSpec, Observation
    >>> life = EntityIncidents("host-1")
    >>> _ = life.observe(Observation("m", "1", "s", 50.0, 9.0, 3.0, True), LifecycleSpec())
    >>> row = EntityRecord(None).updated(None, None, {"m": {"n": 1}}, life.to_state(), [], 1000.0)
    >>> config = ModelConfig.from_dict({"model_id": "m", "detector": "ewma",
    ...                                 "silent_after": 60, "state_ttl": 600})
    >>> sweep_row("host-1", row, 1059.0, lambda m: config).changed   # heard 59 s ago
    False
    >>> swept = sweep_row("host-1", row, 1060.0, lambda m: config)
    >>> [(e["event"], e["resolution"], e["resolved_at"]) for e in swept.outbox]
    [('resolve', 'silent', '1970-01-01T00:00:50.000Z')]
    >>> swept.row["shared"]["open"], swept.models
    (None, ['m'])
    >>> later = sweep_row("host-1", swept.row, 1600.0, lambda m: config)
    >>> later.expired, later.row is None   # its outbox still holds the resolve
    (['m'], False)
    >>> later.row["emptied"]
    1600.0
    >>> sweep_row("host-1", {**later.row, "outbox": []}, 1601.0, lambda m: config).row is None
    True
    """
    heard = row.get("heard")
    if nothing_before > 0 and type(heard) is float and "outbox" not in row and "emptied" not in row:
        seen = row.get("seen")
        oldest = min(heard, *seen.values()) if type(seen) is dict and seen else heard
        if now - oldest < nothing_before:
            return Swept(row, models=list(row.get("models") or ()))
    record = EntityRecord(row)
    new = dict(row)
    changed = False
    if not isinstance(heard, int | float):  # a row of an older version: stamped now
        heard = new["heard"] = now
        changed = True
    outbox = list(row.get("outbox") or ())
    shared = record.shared
    incident = shared.get("open") if shared is not None else None
    if shared is not None and isinstance(incident, Mapping):
        silent_after = _settings(config_of(str(incident.get("model_id"))))[0]
        if silent_after > 0 and now - heard >= silent_after:
            life = EntityIncidents(entity, shared)
            event = life.dismiss(str(incident["incident_id"]), SILENT)
            if event is not None:
                resolved = {**shared, **life.to_state()}
                new = EntityRecord(new).updated(None, None, {}, resolved, [])
                outbox.append(event)
                new["outbox"] = outbox
                changed = True
    models = dict(new.get("models") or {})
    seen = dict(new.get("seen") or {})
    absent = dict(new.get("absent") or {})
    expired = []
    for model_id in list(models):
        last = seen.get(model_id, heard)
        config = config_of(model_id)
        ttl = _settings(config)[1]
        if ttl > 0 and now - last >= ttl:
            del models[model_id]
            seen.pop(model_id, None)
            expired.append(model_id)
            if model_id in absent:  # the entity is forgotten: so is its absence
                outbox.append(absence_event(entity, absent.pop(model_id), "resolve", now, EXPIRED))
        elif (
            config is not None
            and config.expect_every > 0
            and now - last >= config.expect_every
            and model_id not in absent
        ):
            absent[model_id] = went_silent(
                entity,
                model_id,
                config.model_version,
                float(last),
                config.expect_every,
                config.alert_channels,
            )
            outbox.append(absence_event(entity, absent[model_id], "open"))
    if expired:
        new["models"], new["seen"] = models, seen
        changed = True
    if absent != (new.get("absent") or {}):
        if absent:
            new["absent"] = absent
        else:
            new.pop("absent", None)
        new["outbox"] = outbox
        changed = True
    if not models and (expired or "emptied" in new):
        still_open = isinstance((new.get("shared") or {}).get("open"), Mapping)
        if not still_open and not outbox:
            return Swept(None, True, [], expired, [])
        if "emptied" not in new:  # kept for its incident or outbox: goes once they are done
            new["emptied"] = now
    return Swept(new, changed, outbox, expired, list(models))
