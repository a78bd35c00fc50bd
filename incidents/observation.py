"""What the incident lifecycle (:mod:`incidents.lifecycle`) takes and gives: the lifecycle settings
of a model (:class:`LifecycleSpec`), one scored point of one of an entity's signals
(:class:`Observation`), and what observing it did (:class:`Step`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from incidents.incident import Signal


@dataclass(frozen=True)
class LifecycleSpec:
    """Lifecycle settings of the model whose point is observed."""

    cooldown: float = 0.0
    resolve_after: float = 300.0
    recover_ratio: float = 0.8
    group_window: float = 300.0


@dataclass(frozen=True)
class Observation:
    """One scored point of one signal of the entity, as the lifecycle sees it."""

    model_id: str
    model_version: str
    source: str
    ts: float
    score: float
    threshold: float
    alert: bool  # flagged and passed suppression
    signals: Sequence[Signal] = ()
    alert_channels: Sequence[str] = ()
    summary: str = ""  # root-cause sentence for this observation's signals
    change: str = ""  # set where the model re-baselined: "latency level shift: 100 → 150"

    def elevated(self, recover_ratio: float) -> bool:
        """At or above the recovery bar (a lower bar than firing): keeps an incident going."""
        return self.alert or (
            math.isfinite(self.score) and self.score >= recover_ratio * self.threshold
        )


@dataclass
class Step:
    """What observing one point did."""

    events: list[dict[str, Any]] = field(default_factory=list)
    opened: str | None = None  # id of the incident this point opened
    suppressed_by: str | None = None  # "cooldown" when an alert opened nothing because of it
