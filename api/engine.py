"""The engine interface the REST API is served over; `app/` hands an implementation to `create_api`.

Tests replace it with a fake to unit-test the routes without a broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class InvalidInput(ValueError):
    """Input the engine cannot score; ``field`` names where the problem is."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class UnknownModel(LookupError):
    """No configuration exists for the model id."""


class UnknownIncident(LookupError):
    """No incident with that id is known (or still kept)."""


class IncidentNotOpen(RuntimeError):
    """The incident is not open (it resolved), so feedback cannot act on it."""


class EngineUnavailable(RuntimeError):
    """The engine cannot answer now (broker unreachable, worker still starting, timeout)."""


@dataclass(frozen=True)
class ScoreCommand:
    model_id: str
    entity: str
    # ``{"ts", "values"}`` objects as the request sent them, or, when they were plain,
    # ``api.records.RecordColumns`` (already checked; reads as those objects too)
    records: Sequence[Mapping[str, Any]]
    dry_run: bool = False
    horizon: int | None = None
    labels: list[int] | None = None


class Engine(Protocol):
    async def apply_configs(
        self, configs: list[dict[str, Any]], actor: str | None = None
    ) -> list[dict[str, Any]]:
        """Store configurations durably; return them as stored once this worker sees them.

        ``actor`` is who asked (an API key id, or ``loopback``), for the audit trail.
        """

    def list_configs(self) -> list[dict[str, Any]]: ...

    def get_config(self, model_id: str) -> dict[str, Any] | None: ...

    async def score(self, command: ScoreCommand) -> dict[str, Any]:
        """Score records of one entity on the worker that owns it.

        Returns ``{"model_version", "columns": {...}, "incidents": [...]}``, the points as the
        columns of ``incidents.outcome.BatchOutcome.columns`` (or ``"points": [...]``, one
        object per point); raises UnknownModel, InvalidInput or EngineUnavailable.
        """

    def query_alerts(
        self,
        *,
        model_id: str | None,
        entity: str | None,
        since: float | None,
        limit: int,
    ) -> list[dict[str, Any]]: ...

    def health(self) -> dict[str, Any]: ...

    async def series(self, model_id: str, entity: str, limit: int, horizon: int) -> dict[str, Any]:
        """The recent points of (model, entity), from the worker that owns the entity: the
        fields of ``api.schemas.series.SeriesOut``. Raises UnknownModel or EngineUnavailable."""

    async def create_silence(
        self, silence: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        """Store a silence; raises InvalidInput naming the field. ``actor`` as for configs."""

    def list_silences(self) -> list[dict[str, Any]]: ...

    async def delete_silence(self, silence_id: str, actor: str | None = None) -> bool:
        """False when there is no such silence. ``actor`` as for configs."""

    async def feedback(
        self, incident_id: str, verdict: str, actor: str | None = None
    ) -> dict[str, Any]:
        """Apply ``verdict`` ("false_positive") on an open incident, on the worker that owns its
        entity: the fields of ``api.schemas.alerts.FeedbackOut``. Raises UnknownIncident,
        IncidentNotOpen or EngineUnavailable. ``actor`` as for configs."""

    def model_stats_report(self) -> dict[str, dict[str, Any]]:
        """Counters per model id, summed over every worker's partitions."""

    @property
    def max_points_per_request(self) -> int: ...
