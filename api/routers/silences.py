"""`/anomaly/silences`: silences and maintenance windows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Response

from api import examples, responses
from api.deps import AdminAccess, EngineDep, ReadAccess
from api.routing import GuardedRoute
from api.schemas.silences import SilenceIn, SilenceOut, SilencesOut

router = APIRouter(prefix="/anomaly", tags=["silences"], route_class=GuardedRoute)


@router.post(
    "/silences",
    status_code=201,
    response_model=SilenceOut,
    responses={
        201: examples.json_content(examples.SILENCE_OUT),
        **responses.WRITE,
        **responses.TOO_LARGE,
    },
)
async def create_silence(
    body: Annotated[SilenceIn, Body(openapi_examples=examples.SILENCE_IN)],
    engine: EngineDep,
    caller: AdminAccess,
) -> SilenceOut:
    """Silence incidents that match every matcher (on `model_id`, `entity`, `source`,
    `severity`; exact text, or a regular expression written `~regex`) at an event time between
    `starts_at` and `ends_at`, optionally only inside a daily or weekly window. A silenced incident
    is still recorded and listed, marked silenced, but not delivered. Admin scope."""
    stored = await engine.create_silence(body.model_dump(), actor=caller.actor)
    return SilenceOut(**stored)


@router.get(
    "/silences",
    response_model=SilencesOut,
    responses={200: examples.json_content(examples.SILENCES_OUT), **responses.READ},
)
async def list_silences(engine: EngineDep, _: ReadAccess) -> SilencesOut:
    """Every silence, with whether it is active now."""
    return SilencesOut(silences=[SilenceOut(**s) for s in engine.list_silences()])


@router.delete(
    "/silences/{silence_id}",
    status_code=204,
    response_class=Response,
    responses={**responses.WRITE, **responses.not_found("no silence 'sil-5f2c0e7a9b1d3c48'")},
)
async def delete_silence(silence_id: str, engine: EngineDep, caller: AdminAccess) -> Response:
    """Remove a silence; incidents it matched are delivered again from then on. Admin scope."""
    if not await engine.delete_silence(silence_id, actor=caller.actor):
        raise HTTPException(status_code=404, detail=f"no silence {silence_id!r}")
    return Response(status_code=204)
