"""`GET /health`: is this worker ready, and which broker does it use."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import examples
from api.deps import EngineDep
from api.schemas.health import HealthOut

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    responses={
        200: examples.json_content(examples.HEALTH_OK),
        503: {
            "model": HealthOut,
            "description": "Still starting or rebalancing",
            **examples.json_content(examples.HEALTH_STARTING),
        },
    },
)
async def health(engine: EngineDep, response: Response) -> HealthOut:
    """`status` is `ok` (200) once table recovery is done and the configurations and alerts are
    loaded, else `starting` (503), so a readiness probe can use the status code alone."""
    report = HealthOut(**engine.health())
    if report.status != "ok":
        response.status_code = 503
    return report
