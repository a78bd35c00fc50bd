"""`/anomaly/silences`: silences and maintenance windows."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from api.deps import EngineDep
from api.schemas import ErrorOut, SilenceIn, SilenceOut, SilencesOut

router = APIRouter(prefix="/anomaly", tags=["silences"])


@router.post(
    "/silences",
    status_code=201,
    response_model=SilenceOut,
    responses={422: {"model": ErrorOut, "description": "A field is invalid; the message says why"}},
)
async def create_silence(body: SilenceIn, engine: EngineDep) -> SilenceOut:
    """Silence incidents that match every matcher (on `model_id`, `entity`, `source`,
    `severity`; exact text, or a regular expression written `~regex`) at an event time between
    `starts_at` and `ends_at`, optionally only inside a daily or weekly window. A silenced incident
    is still recorded and listed, marked silenced, but not delivered."""
    stored = await engine.create_silence(body.model_dump())
    return SilenceOut(**stored)


@router.get("/silences", response_model=SilencesOut)
async def list_silences(engine: EngineDep) -> SilencesOut:
    """Every silence, with whether it is active now."""
    return SilencesOut(silences=[SilenceOut(**s) for s in engine.list_silences()])


@router.delete("/silences/{silence_id}", status_code=204, responses={404: {"model": ErrorOut}})
async def delete_silence(silence_id: str, engine: EngineDep) -> Response:
    """Remove a silence; incidents it matched are delivered again from then on."""
    if not await engine.delete_silence(silence_id):
        raise HTTPException(status_code=404, detail=f"no silence {silence_id!r}")
    return Response(status_code=204)
