"""The incident lifecycle of one entity: open, update, resolve; cooldown; grouping across signals.

One state per entity (all of an entity's telemetry, whatever the stream, lands on one partition),
so an anomaly on metrics, logs or behaviour of an entity that already has an open incident joins
it instead of paging again. Everything runs on event time (the points' ``ts``):

- an alert (a flagged point that passed suppression) of an entity without an open incident opens
  one, unless the same (model version, entity) opened one less than ``cooldown`` seconds before;
- while an incident is open, alerts from any signal of the entity join it (also alerts up to
  ``group_window`` seconds older than its opening, which arrive late from another stream); the
  incident's peak, last-seen time and signals are updated, and an ``update`` event is published
  when a signal joins, or the peak (as a multiple of each signal's own threshold, which also sets
  the severity) grows by a quarter since the last published one or changes the severity; an
  alert older than that window cannot join and is counted as ``late``;
- hysteresis: an incident keeps going on its alerts, and on points of its models whose score is
  at least ``recover_ratio`` times the threshold (elevated: a lower bar than firing) when they
  come as a run: the second and each further elevated point in a row of one model (its alerts
  count in the run) keeps it going, a lone one does not (noise crosses the bar now and then:
  2.8σ for a threshold of 3.5σ is about one point in 200, two in a row one in 40,000). The
  incident resolves at the first point that does not keep it ``resolve_after`` seconds after the
  last one that did (keep-firing), so a flapping signal does not open and close incidents. A
  point without a score (all values missing) neither keeps nor resolves it, nor breaks a run.
  When the entity was silent that long and alerts again, the old incident is resolved as of the
  end of its keep-firing period and a new one opens.

Events are the documents published on the alerts topic (schema ``anomaly.incident/v1``); an
incident's id and its events' sequence numbers derive from its input, so a replay yields the same.

Beside this state machine: what it takes and gives (:mod:`incidents.observation`), the runs of
elevated points that keep an incident going (:mod:`incidents.keep_firing`), and the events and
signal entries it publishes (:mod:`incidents.incident_event`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from incidents.compact import pack_incident, unpack_incident
from incidents.incident import incident_id, severity_for
from incidents.incident_event import incident_event, signal_entry, signal_key, top_signals
from incidents.keep_firing import KEEP_RUN, quiet_walk, run_of, set_run
from incidents.observation import LifecycleSpec, Observation, Step
from incidents.stored_incident import store

PEAK_GROWTH_FOR_UPDATE = 1.25
MAX_SIGNALS = 16


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists and tuples of scalars), several times
    faster than :func:`copy.deepcopy`, which it equals on such data.

    Examples
    --------
    >>> state = {"signals": [{"name": "cpu", "score": 4.2}], "pair": (1, 2), "n": None}
    >>> copied = json_copy(state)
    >>> copied == state, copied["signals"][0] is state["signals"][0]
    (True, False)
    """
    kind = type(value)
    if kind is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if kind is list:
        return [json_copy(v) for v in value]
    if kind is tuple:
        return tuple(json_copy(v) for v in value)
    return value if kind in (str, float, int, bool) or value is None else copy.deepcopy(value)


class EntityIncidents:
    """The lifecycle state of one entity, as a JSON-serialisable dict in and out.

    Examples
    --------
    >>> from incidents.incident import Signal
    >>> spec = LifecycleSpec(cooldown=600, resolve_after=60)
    >>> def obs(ts, score, alert, source="telemetry.metrics", model="m"):
    ...     return Observation(model, "1", source, ts, score, 3.0, alert,
    ...                        [Signal("cpu", 90.0, score, 50.0, 5.0)])
    >>> life = EntityIncidents("host-1")
    >>> [e["event"] for e in life.observe(obs(0, 9.0, True), spec).events]
    ['open']
    >>> life.observe(obs(10, 9.5, True), spec).events   # same signal, small peak change: quiet
    []
    >>> [e["event"] for e in life.observe(obs(20, 5.0, True, "telemetry.logs", "logs"), spec).events]
    ['update']
    >>> life.observe(obs(50, 1.0, False), spec).events   # back to normal, but not for 60 s yet
    []
    >>> [e["event"] for e in life.observe(obs(90, 1.0, False), spec).events]
    ['resolve']
    >>> life.observe(obs(100, 9.0, True), spec).suppressed_by   # within the 600 s cooldown
    'cooldown'
    """

    def __init__(self, entity: str, state: Mapping[str, Any] | None = None) -> None:
        self.entity = entity
        state = state or {}
        # A deep copy: joining mutates the incident's lists, and the caller's state must not move.
        self.open: dict[str, Any] | None = (
            unpack_incident(json_copy(dict(state["open"])))
            if state.get("open") is not None
            else None
        )
        self.last_opened: dict[str, float] = dict(state.get("last_opened", {}))
        self.changed = False

    def to_state(self) -> dict[str, Any]:
        """A copy: the stored state must not move when this object goes on. The open incident's
        signals are stored without what the incident gives (see ``incidents.compact``)."""
        incident = None
        if self.open is not None:
            copied = json_copy(self.open)
            incident = store(pack_incident(copied), copied)
        return {"open": incident, "last_opened": dict(self.last_opened)}

    def observe(self, obs: Observation, spec: LifecycleSpec) -> Step:
        """Advance the lifecycle with one observed point."""
        incident = self.open
        events: list[dict[str, Any]] = []
        if incident is not None and obs.ts - incident["last_elevated"] >= spec.resolve_after:
            if obs.alert or obs.elevated(spec.recover_ratio):
                # Silent for the whole keep-firing period: the old incident ended back then.
                events.append(
                    self._resolve(incident, incident["last_elevated"] + spec.resolve_after)
                )
                incident = None
            elif math.isfinite(obs.score):
                return Step(events=[self._resolve(incident, obs.ts)])
        if incident is not None:
            noted = self._note_change(incident, obs)
            if obs.alert:
                if obs.ts >= incident["ts"] - spec.group_window:
                    return Step(events=self._join(incident, obs, noted))
                return Step(events=self._update() if noted else [], suppressed_by="late")
            if obs.model_id in incident["models"] and math.isfinite(obs.score):
                run = self._run_on(incident, obs.model_id, obs.elevated(spec.recover_ratio))
                if run >= KEEP_RUN:
                    incident["last_elevated"] = max(incident["last_elevated"], obs.ts)
                    self.changed = True
            return Step(events=self._update() if noted else [])
        if not obs.alert:
            return Step(events=events)
        last = self.last_opened.get(_model_key(obs))
        if last is not None and (obs.ts <= last or obs.ts - last < spec.cooldown):
            return Step(events=events, suppressed_by="cooldown")
        event = self._open(obs)
        return Step(events=[*events, event], opened=event["incident_id"])

    def quiet(
        self,
        model_id: str,
        ts: np.ndarray,
        score: np.ndarray,
        threshold: np.ndarray,
        spec: LifecycleSpec,
    ) -> tuple[int, list[dict[str, Any]]]:
        """:meth:`observe` on a run of points of ``model_id`` that did not alert, in one compiled
        walk (:func:`~incidents.keep_firing.quiet_walk`): how many of them it took until the open incident resolved (all of them when it did
        not), and the events. Without an open incident they change nothing.

        Examples
        --------
        >>> spec = LifecycleSpec(resolve_after=60)
        >>> life = EntityIncidents("host-1")
        >>> _ = life.observe(Observation("m", "1", "s", 0.0, 9.0, 3.0, True), spec)
        >>> ts = np.array([10.0, 30.0, 40.0, 50.0, 55.0, 100.0, 114.0, 115.0, 120.0])
        >>> score = np.array([1, 2.5, 1, 2.5, 2.6, 1, 1, 1, 1.0])   # the bar: 0.8 * 3 = 2.4
        >>> used, events = life.quiet("m", ts, score, np.full(9, 3.0), spec)
        >>> used, [(e["event"], e["resolved_at"]) for e in events]
        (8, [('resolve', '1970-01-01T00:01:55.000Z')])

        The elevated point at 30 alone did not keep it; those at 50 and 55 are a run, so 55
        did, until 115. Without an open incident the points change nothing:

        >>> life.quiet("m", ts, score, np.full(9, 3.0), spec)
        (9, [])
        """
        if self.open is None or not len(ts):
            return len(ts), []
        return self.quiet_span(
            model_id, ts.tolist(), score.tolist(), threshold.tolist(), 0, len(ts), spec
        )

    def quiet_span(
        self,
        model_id: str,
        ts: list[float],
        score: list[float],
        threshold: list[float],
        start: int,
        stop: int,
        spec: LifecycleSpec,
    ) -> tuple[int, list[dict[str, Any]]]:
        """:meth:`quiet` on the points ``start`` to ``stop`` of the lists ``ts``, ``score`` and
        ``threshold`` (a block's, converted once for all its runs)."""
        incident = self.open
        if incident is None or start >= stop:
            return stop - start, []
        ours = model_id in incident["models"]
        before = run_of(incident, model_id)
        used, resolved_at, run, moved, kept, last = quiet_walk(
            ts,
            score,
            threshold,
            start,
            stop,
            ours,
            before,
            incident["last_elevated"],
            spec.recover_ratio,
            spec.resolve_after,
        )
        if kept:
            incident["last_elevated"] = float(last)
            self.changed = True
        if moved:
            set_run(incident, model_id, run)
            self.changed = True
        if math.isnan(resolved_at):
            return used, []
        return used, [self._resolve(incident, float(resolved_at))]

    def _run_on(self, incident: dict[str, Any], model_id: str, elevated: bool) -> int:
        """The run of elevated points of ``model_id`` after one more of its scored points."""
        before = run_of(incident, model_id)
        run = (before + 1 if before + 1 < KEEP_RUN else KEEP_RUN) if elevated else 0
        if run != before:
            set_run(incident, model_id, run)
            self.changed = True
        return run

    def dismiss(self, incident_id: str, resolution: str) -> dict[str, Any] | None:
        """Resolve the open incident ``incident_id`` because of a verdict (feedback that it was
        a false positive, say): its ``resolve`` event carries ``resolution``, and it resolves as
        of its last elevated point. None when that incident is not the open one.

        Examples
        --------
        >>> spec = LifecycleSpec()
        >>> life = EntityIncidents("host-1")
        >>> opened = life.observe(Observation("m", "1", "s", 60.0, 9.0, 3.0, True), spec).opened
        >>> _ = life.observe(Observation("m", "1", "s", 70.0, 2.5, 3.0, False), spec)
        >>> life.dismiss("inc-other", "false_positive") is None
        True
        >>> event = life.dismiss(opened, "false_positive")
        >>> event["event"], event["resolved_at"], event["resolution"], life.open
        ('resolve', '1970-01-01T00:01:10.000Z', 'false_positive', None)
        """
        incident = self.open
        if incident is None or incident["incident_id"] != incident_id:
            return None
        incident["resolution"] = resolution
        return self._resolve(incident, max(incident["last_seen"], incident["last_elevated"]))

    # -------------------------------------------------------------- transitions

    def _open(self, obs: Observation) -> dict[str, Any]:
        ident = incident_id(obs.model_id, obs.model_version, self.entity, obs.ts)
        self.open = {
            "incident_id": ident,
            "model_id": obs.model_id,
            "model_version": obs.model_version,
            "source": obs.source,
            "ts": obs.ts,
            "score": obs.score,
            "threshold": obs.threshold,
            "peak_score": obs.score,
            "peak_ratio": _ratio(obs),
            "published_ratio": _ratio(obs),
            "opened_severity": severity_for(_ratio(obs), 1.0),
            "last_seen": obs.ts,
            "last_elevated": obs.ts,
            "signals": [signal_entry(obs, s) for s in top_signals(obs)],
            "models": [obs.model_id],
            "summaries": {obs.model_id: obs.change or obs.summary},
            "alert_channels": list(obs.alert_channels),
            "seq": 0,
            "runs": {obs.model_id: 1},  # the opening alert is elevated
        }
        self.last_opened[_model_key(obs)] = obs.ts
        self.changed = True
        return self._event("open")

    def _note_change(self, incident: dict[str, Any], obs: Observation) -> bool:
        """A change point of one of the incident's models becomes its summary ("level shift:
        100 → 150"): the incident goes on until the new level is learned and the points are
        back below the recovery bar. Returns whether there was one."""
        if not obs.change or obs.model_id not in incident["models"]:
            return False
        incident["summaries"][obs.model_id] = obs.change
        self.changed = True
        return True

    def _update(self) -> list[dict[str, Any]]:
        """An update of the open incident, published as is."""
        assert self.open is not None
        self.open["seq"] += 1
        return [self._event("update")]

    def _join(
        self, incident: dict[str, Any], obs: Observation, noted: bool = False
    ) -> list[dict[str, Any]]:
        """``noted``: a change point was noted in the incident: an update is due."""
        self.changed = True
        incident["last_seen"] = max(incident["last_seen"], obs.ts)
        incident["last_elevated"] = max(incident["last_elevated"], obs.ts)
        ratio = _ratio(obs)
        if ratio > incident["peak_ratio"]:
            incident["peak_ratio"] = ratio
            incident["peak_score"] = obs.score
        published = incident["published_ratio"]
        grew = incident["peak_ratio"] >= published * PEAK_GROWTH_FOR_UPDATE or severity_for(
            incident["peak_ratio"], 1.0
        ) != severity_for(published, 1.0)
        known = {s["signal"] for s in incident["signals"]}
        added = [
            signal_entry(obs, s)
            for s in top_signals(obs)
            if signal_key(obs.source, obs.model_id, s.feature) not in known
        ]
        incident["signals"] = (incident["signals"] + added)[:MAX_SIGNALS]
        self._run_on(incident, obs.model_id, elevated=True)
        if obs.model_id not in incident["models"]:
            incident["models"].append(obs.model_id)
            incident["summaries"][obs.model_id] = obs.summary
            for channel in obs.alert_channels:
                if channel not in incident["alert_channels"]:
                    incident["alert_channels"].append(channel)
        if not added and not grew and not noted:
            return []
        if grew and not noted:
            incident["summaries"][obs.model_id] = obs.summary
            incident["published_ratio"] = incident["peak_ratio"]
        incident["seq"] += 1
        return [self._event("update")]

    def _resolve(self, incident: dict[str, Any], ts: float) -> dict[str, Any]:
        incident["seq"] += 1
        incident["resolved_ts"] = ts
        event = self._event("resolve")
        self.open = None
        self.changed = True
        return event

    def _event(self, kind: str) -> dict[str, Any]:
        assert self.open is not None
        return incident_event(self.open, self.entity, kind)


def _model_key(obs: Observation) -> str:
    """Cooldowns are per model version: a new version starts afresh."""
    return f"{obs.model_id}@{obs.model_version}"


def _ratio(obs: Observation) -> float:
    """How far above its own threshold a point is (comparable across models)."""
    if not math.isfinite(obs.score) or obs.threshold <= 0:
        return math.inf if obs.score == math.inf else 0.0
    return obs.score / obs.threshold
