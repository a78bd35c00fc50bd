"""`/anomaly/config`: apply and read detector configurations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from api import examples, responses
from api.deps import AdminAccess, EngineDep, ReadAccess
from api.routing import GuardedRoute
from api.schemas.config import ConfigsIn, ConfigsOut, ModelConfigOut

router = APIRouter(prefix="/anomaly", tags=["configuration"], route_class=GuardedRoute)


@router.post(
    "/config",
    response_model=ConfigsOut,
    responses={
        200: examples.json_content(examples.CONFIGS_OUT),
        **responses.WRITE,
        **responses.TOO_LARGE,
    },
)
async def apply_configs(
    body: Annotated[ConfigsIn, Body(openapi_examples=examples.CONFIGS_IN)],
    engine: EngineDep,
    caller: AdminAccess,
) -> ConfigsOut:
    """Store one or more configurations on the compacted config topic (admin scope).

    Every worker reads that topic whole, so the configurations reach every worker and survive
    restarts. The response returns once this worker sees them. A new `model_version` resets the
    model's per-entity state; the same version keeps it. The change is recorded with the caller's
    key id (or `loopback`).
    """
    stored = await engine.apply_configs([c.model_dump() for c in body.configs], actor=caller.actor)
    return ConfigsOut(configs=[ModelConfigOut(**c) for c in stored])


@router.get(
    "/config",
    response_model=ConfigsOut,
    responses={200: examples.json_content(examples.ALL_CONFIGS_OUT), **responses.READ},
)
async def list_configs(engine: EngineDep, _: ReadAccess) -> ConfigsOut:
    """Every configuration this worker knows, by model id."""
    return ConfigsOut(configs=[ModelConfigOut(**c) for c in engine.list_configs()])


@router.get(
    "/config/{model_id}",
    response_model=ModelConfigOut,
    responses={
        200: examples.json_content(examples.README_STORED),
        **responses.READ,
        **responses.not_found("no configuration for model 'metrics-v9'"),
    },
)
async def get_config(model_id: str, engine: EngineDep, _: ReadAccess) -> ModelConfigOut:
    """One configuration."""
    config = engine.get_config(model_id)
    if config is None:
        raise HTTPException(status_code=404, detail=f"no configuration for model {model_id!r}")
    return ModelConfigOut(**config)
