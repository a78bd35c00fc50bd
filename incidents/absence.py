"""Absence as an anomaly: a "went silent" incident of a model whose entity stopped reporting.

A model with ``expect_every`` (seconds of the worker's clock, 0: off) expects each entity it has
state of to send at least that often. When one has sent nothing to the model for that long, the
worker's timer (``app.worker.expiry``) opens an incident for it; the entity's next message to the model
resolves it (``"resolution": "reported"``), and so does the expiry of the model's state of it
(``"resolution": "expired"``: a host that was decommissioned). It is an incident of its own, not
the entity's lifecycle incident (``incidents.lifecycle``): a spike's incident of an entity that
then dies resolves as ``silent`` while its absence stays open.

Its documents are those of the alerts topic (schema ``anomaly.incident/v1``) with the silence as
the score: ``score`` the seconds without a message when it opened, ``threshold`` the
``expect_every``, no signals. Its id derives from (model, version, entity, opening time), and the
opening time from the last message received (``last + expect_every``), so a timer that runs
again yields the same incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from incidents.incident import SCHEMA, incident_id, iso_time

REPORTED = "reported"  # the entity sent again
EXPIRED = "expired"  # the model's state of the entity went (state_ttl)


def went_silent(
    entity: str,
    model_id: str,
    model_version: str,
    last: float,
    expect_every: float,
    alert_channels: Sequence[str] = (),
) -> dict[str, Any]:
    """The absence incident of ``entity`` under ``model_id``, last heard from at ``last``, as a
    row stores it (see :func:`absence_event`).

    Examples
    --------
    >>> state = went_silent("host-1", "cpu", "1", 1000.0, 300.0, ["slack"])
    >>> event = absence_event("host-1", state, "open")
    >>> event["event"], event["opened_at"], event["last_seen"], event["score"], event["severity"]
    ('open', '1970-01-01T00:21:40.000Z', '1970-01-01T00:16:40.000Z', 300.0, 'warning')
    >>> event["summary"]
    'cpu on host-1: nothing received for 300 s (expected every 300 s)'
    >>> done = absence_event("host-1", state, "resolve", 1500.0, REPORTED)
    >>> done["seq"], done["status"], done["resolved_at"], done["resolution"]
    (1, 'resolved', '1970-01-01T00:25:00.000Z', 'reported')
    >>> done["incident_id"] == event["incident_id"] == state["incident_id"]
    True
    """
    opened = last + expect_every
    return {
        "incident_id": incident_id(model_id, model_version, entity, opened),
        "model_id": model_id,
        "model_version": model_version,
        "ts": opened,
        "last": last,
        "expect_every": expect_every,
        "alert_channels": list(alert_channels),
    }


def absence_event(
    entity: str,
    state: Mapping[str, Any],
    kind: str,
    at: float | None = None,
    resolution: str | None = None,
) -> dict[str, Any]:
    """The ``open`` or ``resolve`` (at ``at``, with ``resolution``) event of an absence."""
    resolved = kind == "resolve"
    opened, last, every = float(state["ts"]), float(state["last"]), float(state["expect_every"])
    event: dict[str, Any] = {
        "schema": SCHEMA,
        "event": kind,
        "seq": 1 if resolved else 0,
        "incident_id": state["incident_id"],
        "dedup_key": state["incident_id"],
        "status": "resolved" if resolved else "open",
        "model_id": state["model_id"],
        "model_version": state["model_version"],
        "models": [state["model_id"]],
        "entity": entity,
        "source": "absence",
        "ts": opened,
        "opened_at": iso_time(opened),
        "last_seen": iso_time(last),
        "resolved_at": iso_time(at) if resolved and at is not None else None,
        "score": opened - last,
        "peak_score": opened - last,
        "threshold": every,
        "severity": "warning",
        "opened_severity": "warning",
        "summary": (
            f"{state['model_id']} on {entity}: nothing received for {opened - last:.0f} s "
            f"(expected every {every:g} s)"
        ),
        "signals": [],
        "alert_channels": list(state.get("alert_channels") or ()),
    }
    if resolved and resolution is not None:
        event["resolution"] = resolution
    return event
