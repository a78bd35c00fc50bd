"""What a scored behaviour event reports: each edge's score and the event's (see
:mod:`detectors.graph_rarity`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EdgeKind = Literal["transition", "target", "attribute"]


@dataclass(frozen=True)
class EdgeScore:
    """One edge of a scored event.

    Attributes
    ----------
    kind
        ``"transition"``, ``"target"`` or ``"attribute"``.
    source, destination
        The edge: previous action -> action, ``"entity"`` -> target, ``"attr:<key>"`` -> value.
    score
        Confidence-weighted excess surprise in bits (see :class:`GraphRarity`), >= 0.
    weight
        Decayed weight of this edge before the event (0.0 if new or forgotten).
    source_weight
        Decayed total weight of the source before the event (its number of recent events).

    Examples
    --------
    >>> EdgeScore("transition", "login", "export", 6.2, 0.0, 40.2).describe()
    'new transition login -> export (never seen in 40 events)'
    >>> EdgeScore("attribute", "attr:country", "FR", 4.1, 1.0, 51.0).describe()
    'country FR seen in 2% of 51 events'
    >>> EdgeScore("target", "entity", "/admin", 0.0, 0.0, 0.0).describe()
    'new target /admin (no history yet)'
    """

    kind: EdgeKind
    source: str
    destination: str
    score: float
    weight: float
    source_weight: float

    def describe(self) -> str:
        """A short sentence for root-cause text."""
        if self.kind == "transition":
            what = f"transition {self.source} -> {self.destination}"
        elif self.kind == "target":
            what = f"target {self.destination}"
        else:
            what = f"{self.source.removeprefix('attr:')} {self.destination}"
        events = f"{self.source_weight:.0f} events"
        if self.weight <= 0.0:
            if round(self.source_weight) == 0:
                return f"new {what} (no history yet)"
            return f"new {what} (never seen in {events})"
        share = 100.0 * self.weight / self.source_weight
        percent = "<1%" if share < 0.5 else f"{share:.0f}%"
        return f"{what} seen in {percent} of {events}"


@dataclass(frozen=True)
class RarityResult:
    """Scores of one event: ``score`` is the largest edge score (0.0 without edges), in bits.

    ``edges`` are ranked by score, highest first (ties keep the order transition, target,
    attributes).
    """

    score: float
    edges: list[EdgeScore]
