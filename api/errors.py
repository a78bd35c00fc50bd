"""Error responses: a field and a sentence for every rejected input, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.routing import Match
from starlette.types import Scope

from api.engine import (
    EngineUnavailable,
    IncidentNotOpen,
    InvalidInput,
    UnknownIncident,
    UnknownModel,
)

log = logging.getLogger(__name__)


def field_path(loc: Sequence[Any]) -> str:
    """``("body", "configs", 0, "params")`` -> ``"configs[0].params"``.

    Examples
    --------
    >>> field_path(("body", "configs", 0, "params", "std"))
    'configs[0].params.std'
    >>> field_path(("query", "limit"))
    'limit'
    """
    path = ""
    for part in loc:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


MAX_MESSAGE_CHARS = 500
# Pydantic's complaints about a body that is not a JSON object (or is missing), in one sentence.
_NOT_AN_OBJECT = {"model_attributes_type", "model_type", "dict_type", "missing"}
_BODY_NOT_AN_OBJECT = (
    "the request body must be a JSON object, sent with Content-Type: application/json"
)


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message cut to ``limit`` characters, so an echoed input cannot make it huge.

    Examples
    --------
    >>> clip("got " + "[" * 1000, 12)
    'got [[[[[[[…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(error: dict[str, Any]) -> str:
    text = str(error.get("msg", "invalid value"))
    if text.startswith("Value error, "):
        text = text[len("Value error, ") :]
    if error.get("type") == "extra_forbidden":
        text = "unknown field; check its spelling against the API schema"
    if error.get("type") == "missing":
        text = "this field is required"
    return text


def validation_items(errors: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    from api.schemas.config import DetectorParamsError

    items: list[dict[str, str]] = []
    seen: set[str] = set()
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "invalid JSON")
            items.append(
                {"field": "body", "message": clip(f"the request body is not valid JSON: {reason}")}
            )
            continue
        loc = list(error.get("loc", ()))
        # Pydantic reports union members by type name; drop them from the path.
        loc = [p for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_NAMES))]
        if isinstance(error.get("ctx", {}).get("error"), DetectorParamsError):
            loc.append("params")
        field = field_path(loc)
        if field == "body" and error.get("type") in _NOT_AN_OBJECT:
            error = {**error, "type": "body", "msg": _BODY_NOT_AN_OBJECT}
        if field in seen:  # one sentence per field, not one per member of a union
            continue
        seen.add(field)
        items.append({"field": field, "message": clip(_message(error))})
    return items


_TYPE_NAMES = {"str", "float", "int", "bool", "list", "dict", "function-after", "function-before"}


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: Starlette, scope: Scope) -> list[str]:
    """Every method some route of ``app`` takes at the request's path (Starlette's own 405
    names only those of the first route whose path matches)."""
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in app.routes)
    ]


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": validation_items(exc.errors())})

    @api.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": [{"field": exc.field, "message": clip(str(exc))}]},
        )

    @api.exception_handler(UnknownModel)
    async def _unknown(_: Request, exc: UnknownModel) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @api.exception_handler(UnknownIncident)
    async def _unknown_incident(_: Request, exc: UnknownIncident) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @api.exception_handler(IncidentNotOpen)
    async def _not_open(_: Request, exc: IncidentNotOpen) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @api.exception_handler(EngineUnavailable)
    async def _unavailable(_: Request, exc: EngineUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503, content={"detail": str(exc)}, headers={"Retry-After": "1"}
        )

    @api.exception_handler(405)
    async def _method_not_allowed(request: Request, _: Exception) -> JSONResponse:
        methods = allowed_methods(request.app, request.scope)
        return JSONResponse(
            status_code=405,
            content={
                "detail": f"method {request.method} not allowed; this path takes "
                + ", ".join(methods)
            },
            headers={"Allow": ", ".join(methods)},
        )

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            status_code=500, content={"detail": "internal error; the worker log has the details"}
        )
