"""``GET /health``: whether the worker is ready, on which broker."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class HealthOut(BaseModel):
    status: Literal["ok", "starting"]
    broker: str
    embedded_broker: bool
    # Which embedded broker the worker started: "kafka" (Apache Kafka) or "tansu"; null when
    # KAFKA_BOOTSTRAP_SERVERS named one.
    embedded_broker_kind: Literal["kafka", "tansu"] | None = None
    recovery_done: bool
    configs_loaded: bool
    alerts_loaded: bool
    app_id: str
    assigned_partitions: list[int]
