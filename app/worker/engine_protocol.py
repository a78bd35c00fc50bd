"""What the engine's parts (the telemetry agents' handler, the collector formats, the sweeper,
the series replies) use of the engine: a :class:`typing.Protocol`, so that none of them imports
``app.worker.engine`` (which builds them), not even for type checking.

The scoring step's types live here too: a step runs one model on an entity's row,
``run(model_state, shared_state) -> BatchOutcome``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from incidents.config import ModelConfig
from incidents.outcome import BatchOutcome

if TYPE_CHECKING:
    from faust.types import EventT

    from app.worker.entity_record import EntityRecord
    from app.worker.metrics import EngineMetrics
    from app.worker.pending_writes import PendingWrites
    from app.worker.progress import PartitionPositions
    from app.worker.recent import RecentStore
    from app.worker.settings import Settings
    from app.worker.transport import EngineApp
    from app.worker.views import ConfigStore
    from app.worker.write_back import WriteBack
    from incidents.feedback import Dismissal
    from incidents.live import LiveCache

State = Mapping[str, Any] | None
Run = Callable[[State, State], BatchOutcome]
Steps = Sequence[tuple[ModelConfig, Run]]


class EngineProtocol(Protocol):
    """The engine as its parts see it (:class:`app.worker.engine.Engine` implements it)."""

    settings: Settings
    app: EngineApp
    metrics: EngineMetrics
    configs: ConfigStore
    positions: PartitionPositions
    write_back: WriteBack
    live: LiveCache
    recent: RecentStore
    entity_state: Any  # the Faust table of the entities' rows
    model_stats: Any  # the Faust table of the models' counters
    deliveries: Any  # the Faust table of the delivery ledger
    telemetry_topics: dict[str, Any]

    def model_config(self, model_id: str) -> ModelConfig | None: ...

    def list_configs(self) -> list[dict[str, Any]]: ...

    def partition_of(self, entity: str) -> int: ...

    def pending_writes(self, *, later: bool = False) -> PendingWrites: ...

    def apply_message(
        self,
        entity: str,
        partition: int,
        source: tuple[str, int, int] | None,
        steps: Steps | Callable[[EntityRecord], Steps],
        pending: PendingWrites,
    ) -> tuple[list[BatchOutcome], list[dict[str, Any]]]: ...

    def dismissal_of(
        self, entity: str, incident_id: str, verdict: str
    ) -> tuple[Callable[[EntityRecord], Steps], list[Dismissal]]: ...

    async def publish_events(self, events: list[dict[str, Any]]) -> list[Any]: ...

    async def dead_letter(self, event: EventT[Any], reason: str) -> None: ...
