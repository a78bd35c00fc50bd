"""`/anomaly/config`: apply and read detector configurations."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import EngineDep
from api.schemas import ConfigsIn, ConfigsOut, ErrorOut, ModelConfigOut

router = APIRouter(prefix="/anomaly", tags=["configuration"])


@router.post(
    "/config",
    response_model=ConfigsOut,
    responses={422: {"model": ErrorOut, "description": "A field is invalid; the message says why"}},
)
async def apply_configs(body: ConfigsIn, engine: EngineDep) -> ConfigsOut:
    """Store one or more configurations on the compacted config topic.

    Every worker reads that topic whole, so the configurations reach every worker and survive
    restarts. The response returns once this worker sees them. A new `model_version` resets the
    model's per-entity state; the same version keeps it.
    """
    stored = await engine.apply_configs([c.model_dump() for c in body.configs])
    return ConfigsOut(configs=[ModelConfigOut(**c) for c in stored])


@router.get("/config", response_model=ConfigsOut)
async def list_configs(engine: EngineDep) -> ConfigsOut:
    """Every configuration this worker knows, by model id."""
    return ConfigsOut(configs=[ModelConfigOut(**c) for c in engine.list_configs()])


@router.get(
    "/config/{model_id}", response_model=ModelConfigOut, responses={404: {"model": ErrorOut}}
)
async def get_config(model_id: str, engine: EngineDep) -> ModelConfigOut:
    """One configuration."""
    config = engine.get_config(model_id)
    if config is None:
        raise HTTPException(status_code=404, detail=f"no configuration for model {model_id!r}")
    return ModelConfigOut(**config)
