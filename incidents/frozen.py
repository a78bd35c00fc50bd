"""Instances of frozen dataclasses made on the hot path without their ``__init__``.

A frozen dataclass's ``__init__`` sets each field with an ``object.__setattr__`` call (it refuses
the usual assignment): about 2 µs for the ten fields of a point's outcome, once a point. The
scoring step builds a few such objects for every point; :func:`made` gives the same object from
all of its fields at once.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

_new_object = object.__new__


def made(cls: type[T], fields: dict[str, Any]) -> T:
    """``cls(**fields)`` of a frozen dataclass without ``__post_init__``, from every one of its
    fields in their declared order (the caller's part: nothing checks them here).

    Examples
    --------
    >>> from incidents.observation import Observation
    >>> from incidents.outcome import PointOutcome
    >>> point = dict(ts=1.0, score=4.5, threshold=3.0, is_anomaly=True, warm=True, alert=False,
    ...              suppressed_by="persistence", incident_id=None, root_cause="cpu", correlated=())
    >>> vars(made(PointOutcome, point)) == vars(PointOutcome(**point))
    True
    >>> seen = dict(model_id="m", model_version="1", source="telemetry.metrics", ts=60.0,
    ...             score=4.0, threshold=3.0, alert=True, signals=(), alert_channels=("slack",),
    ...             summary="cpu", change="")
    >>> made(Observation, seen) == Observation(**seen)
    True
    """
    instance: T = _new_object(cls)
    instance.__dict__.update(fields)
    return instance
