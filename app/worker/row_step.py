"""One message applied to its entity's row: each model's scoring step run on the row's state,
the row written back once (to a batch of pending writes), a replay recognised by its source
offset, and the absence incidents of the models that reported again resolved. A row written by
a newer engine is read by the fields this version knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from app.worker.engine_protocol import Run, Steps
from app.worker.entity_record import ROW_VERSION, EntityRecord, source_key
from app.worker.metrics import EngineMetrics
from app.worker.pending_writes import PendingWrites
from app.worker.recent import RecentStore
from app.worker.stats import stats_key
from detectors import DetectorError
from incidents.absence import REPORTED, absence_event
from incidents.config import ModelConfig
from incidents.feedback import FeedbackRefused
from incidents.live import LiveState
from incidents.outcome import BatchOutcome
from incidents.points import TelemetryError

log = logging.getLogger("app.engine")  # the lines these steps log were the engine's


def apply_to_row(
    entity: str,
    partition: int,
    source: tuple[str, int, int] | None,
    steps: Steps | Callable[[EntityRecord], Steps],
    pending: PendingWrites,
    *,
    metrics: EngineMetrics,
    recent: RecentStore,
    clock: Callable[[], float],
) -> tuple[list[BatchOutcome], list[dict[str, Any]]]:
    """Run each model's scoring step on the entity's row and write the row back once, with
    no await in between (nothing else in the worker's event loop interleaves). ``steps`` may
    be a function of the row (feedback on the row's incident), called once the message is
    known not to be a replay.

    ``source`` is the message's (topic, partition, offset): a message already applied (a
    replay after a crash) is not applied again, and the events it produced are returned to
    be published again. The row and counters go to ``pending`` (the writes of a batch of
    messages), written to the tables when it is flushed. Returns the outcomes and the events
    to publish.
    """
    record = EntityRecord(pending.row(entity))
    where = source_key(source[0], source[1]) if source else None
    offset = source[2] if source else None
    if where is not None and offset is not None and record.applied(where, offset):
        log.info("%s@%d already applied to %s; not applied again", where, offset, entity)
        return [], record.events_of(where, offset, entity)
    if callable(steps):
        steps = steps(record)
    shared, shared_changed = record.shared, False
    models: dict[str, dict[str, Any]] = {}
    outcomes = []
    newer = record.version > ROW_VERSION
    if newer:
        metrics.newer_row(record.version)
    for config, run in steps:
        state = record.model_state(config.model_id)
        try:
            if newer:
                outcome, shared = _run_newer(config, entity, run, state, shared, metrics)
            else:
                outcome = run(state, shared)
        except BaseException:
            for kept in (state, shared):
                if type(kept) is LiveState:
                    kept.failed()  # the row keeps it: it must stay readable
            raise
        if outcome.reset:
            log.info(
                "state of %s on %s reset for model version %s",
                config.model_id,
                entity,
                config.model_version,
                extra={"model_id": config.model_id, "entity": entity},
            )
        if outcome.entity_state is not None:
            shared, shared_changed = outcome.entity_state, True
        if outcome.state is not None:
            models[config.model_id] = outcome.state
            metrics.scored(config.configured_id, outcome.counters)
            recent.add(config.model_id, entity, outcome)
            row = stats_key(config.configured_id, partition)
            pending.add_stats(row, partition, outcome.counters)
        outcomes.append(outcome)
    events = [event for outcome in outcomes for event in outcome.events]
    absent = record.row.get("absent")
    absent = absent if absent is not None and isinstance(absent, Mapping) else {}
    back = [m for m in models if m in absent]
    for model_id in back:  # the entity reported again: its absence resolves
        events.append(absence_event(entity, absent[model_id], "resolve", clock(), REPORTED))
        metrics.incidents_resolved.labels(model_id).inc()
    if models or shared_changed:
        new_row = record.updated(
            where, offset, models, shared if shared_changed else None, events, clock()
        )
        left = {m: a for m, a in absent.items() if m not in back}
        if left:
            new_row["absent"] = left
        else:
            new_row.pop("absent", None)
        pending.set_row(entity, partition, new_row)
    return outcomes, events


def _run_newer(
    config: ModelConfig,
    entity: str,
    run: Run,
    state: Mapping[str, Any] | None,
    shared: Mapping[str, Any] | None,
    metrics: EngineMetrics,
) -> tuple[BatchOutcome, Mapping[str, Any] | None]:
    """A step on a row a newer engine wrote (a rollback): read by the fields this version
    knows; if the model's state (or else the entity's shared state) cannot be read that
    way, it is reset with a counted warning. Returns the outcome and the shared state the
    step started from."""
    tries = [(state, shared)]
    if state is not None:
        tries.append((None, shared))
    if shared is not None:
        tries.append((None, None))
    for k, (model_state, shared_state) in enumerate(tries):
        try:
            return run(model_state, shared_state), shared_state
        except (TelemetryError, DetectorError, FeedbackRefused):
            raise  # the message's fault, not the row's
        except Exception as exc:
            if k == len(tries) - 1:
                raise
            part = "model state" if model_state is not None else "shared state"
            metrics.state_reset(config.model_id, "unreadable")
            log.warning(
                "%s of %s on %s written by a newer engine could not be read (%s): reset",
                part,
                config.model_id,
                entity,
                type(exc).__name__,
                extra={"model_id": config.model_id, "entity": entity},
            )
    raise AssertionError("unreachable: the last try returns or raises")
