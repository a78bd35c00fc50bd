"""`GET /health`: is this worker ready, and which broker does it use."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import EngineDep
from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
async def health(engine: EngineDep) -> HealthOut:
    """`status` is `ok` once table recovery is done and the configurations and alerts are loaded."""
    return HealthOut(**engine.health())
