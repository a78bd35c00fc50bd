"""The route class of the protected routers: access first, then the query and the body, whose
JSON is parsed with a guard against nesting and bytes that are not text; answers carry the
route's own time in a ``Server-Timing`` header."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine
from types import UnionType
from typing import Any, Union, get_args, get_origin

import orjson
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope

from api.deps import Access
from api.engine import InvalidInput
from api.nogc import paused_gc

NESTING_MESSAGE = (
    "arrays or objects are nested too deeply to parse; no field of this API needs more than a "
    "few levels"
)

NOT_TEXT_MESSAGE = "it is not UTF-8 text"

# orjson reads an integer past 64 bits as a float; the standard library keeps it exact. A run
# of 19 digits is found by turning every digit into 0 (ten times faster than a regex).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def parse_json(body: bytes) -> Any:
    """``body`` parsed as ``json.loads`` parses it, by orjson (5× faster) when orjson reads it
    the same: it refuses what ``json.loads`` takes beyond standard JSON (NaN, 1e400, lone
    surrogates, a byte-order mark, nesting past 1024 levels), which then gets ``json.loads``
    and its own result or error, and so do bodies holding a 19-digit number.

    Examples
    --------
    >>> parse_json(b'{"a": [1, 2.5, null]}'), parse_json(b"[NaN]"), parse_json(b"[10000000000000000001]")
    ({'a': [1, 2.5, None]}, [nan], [10000000000000000001])
    """
    if body.translate(_DIGITS_TO_ZERO).find(_NINETEEN_DIGITS) < 0:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


class NestingGuardRequest(Request):
    """A request whose JSON body refuses pathological nesting, and bytes that are not UTF-8, as
    invalid JSON (a 422 on ``body``) instead of FastAPI's unexplained 400. ``prepare`` (if any)
    takes the parsed body in the same pause of the collector, before FastAPI validates it."""

    def __init__(
        self, scope: Scope, receive: Receive, prepare: Callable[[Any], Any] | None = None
    ) -> None:
        super().__init__(scope, receive)
        self.prepare = prepare

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                with paused_gc():
                    parsed = parse_json(body)
                    self._json = parsed if self.prepare is None else self.prepare(parsed)
            except RecursionError:
                raise json.JSONDecodeError(NESTING_MESSAGE, "", 0) from None
            except UnicodeDecodeError:
                raise json.JSONDecodeError(NOT_TEXT_MESSAGE, "", 0) from None
        return self._json


class GuardedRoute(APIRoute):
    """Admits the caller (keys, scope, scoring rate) before FastAPI reads and parses the body,
    so a refused request costs no parsing; refuses query parameters the route does not take (a
    misspelt filter would otherwise be ignored and the answer unfiltered) and a single-valued one
    given twice (FastAPI would keep the last and ignore the first); then parses JSON with
    :class:`NestingGuardRequest`, handing the parsed body to :attr:`prepare_body` first when a
    subclass names one."""

    #: What a route does with its parsed JSON body before FastAPI validates it (with the collector
    #: still paused): a function of the body that returns the body to validate.
    prepare_body: Callable[[Any], Any] | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        access = find_access(self.dependant)
        known = query_names(self.dependant)
        single = known - repeatable_query_names(self.dependant)
        prepare = type(self).prepare_body

        async def guarded(request: Request) -> Response:
            started = time.perf_counter()
            if access is not None:
                access.admit(request)
            for name in request.query_params:
                if name not in known:
                    takes = ", ".join(sorted(known)) or "none"
                    raise InvalidInput(
                        f"unknown query parameter {name!r}; this endpoint takes: {takes}",
                        field=name or "query",
                    )
            for name in single:  # FastAPI would silently keep the last of `?x=a&x=b`
                if len(request.query_params.getlist(name)) > 1:
                    raise InvalidInput(
                        f"query parameter {name!r} is given more than once; give it once",
                        field=name,
                    )
            response = await handler(NestingGuardRequest(request.scope, request.receive, prepare))
            response.headers["Server-Timing"] = server_timing(time.perf_counter() - started)
            return response

        return guarded


def server_timing(seconds: float) -> str:
    """A ``Server-Timing`` header value: the route's own time, from admission to its answer
    (reading and parsing the body, validation, the engine, encoding; not sending the answer).

    Examples
    --------
    >>> server_timing(0.01234)
    'total;dur=12.3;desc="admission to answer"'
    """
    return f'total;dur={1000 * seconds:.1f};desc="admission to answer"'


def find_access(dependant: Dependant) -> Access | None:
    """The :class:`Access` dependency of a route, wherever it sits in its dependency tree."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Access):
            return dependency.call
        found = find_access(dependency)
        if found is not None:
            return found
    return None


def repeatable_query_names(dependant: Dependant) -> set[str]:
    """The query parameters that take a list (``?x=a&x=b``), its dependencies' included."""
    names = set()
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
        kinds = {get_origin(a) or a for a in (*members, annotation)}
        if kinds & {list, tuple, set, frozenset}:
            names.add(field.alias)
    for dependency in dependant.dependencies:
        names |= repeatable_query_names(dependency)
    return names


def query_names(dependant: Dependant) -> set[str]:
    """The names of every query parameter a route takes, its dependencies' included."""
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= query_names(dependency)
    return names
