"""The route class of the protected routers: access first, then the query and the body, whose
JSON is parsed with a guard against nesting and bytes that are not text."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.deps import Access
from api.engine import InvalidInput

NESTING_MESSAGE = (
    "arrays or objects are nested too deeply to parse; no field of this API needs more than a "
    "few levels"
)

NOT_TEXT_MESSAGE = "it is not UTF-8 text"


class NestingGuardRequest(Request):
    """A request whose JSON body refuses pathological nesting, and bytes that are not UTF-8, as
    invalid JSON (a 422 on ``body``) instead of FastAPI's unexplained 400."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body)
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
    :class:`NestingGuardRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        access = find_access(self.dependant)
        known = query_names(self.dependant)
        single = known - repeatable_query_names(self.dependant)

        async def guarded(request: Request) -> Response:
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
            return await handler(NestingGuardRequest(request.scope, request.receive))

        return guarded


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
