"""Dependencies shared by the routers: the engine, and who may call an endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.engine import Engine
from api.limits import TokenBuckets, retry_after
from api.options import ApiOptions
from api.security import ADMIN, READ, Principal, authenticate


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key from ANOMALY_READ_KEY (read scope) or ANOMALY_ADMIN_KEY (admin scope). "
    "With no key configured, read endpoints are open and write endpoints answer loopback clients.",
)


class Access:
    """The dependency that admits a caller with ``scope`` (and, for scoring, within its rate).

    :class:`api.routing.GuardedRoute` runs :meth:`admit` before the request body is read, so a
    refused request costs no parsing; the dependency itself admits again only if that did not
    happen, so a route is protected whichever route class it uses.
    """

    def __init__(self, scope: str, *, rate_limited: bool = False) -> None:
        self.scope = scope
        self.rate_limited = rate_limited

    def admit(self, request: Request) -> Principal:
        admitted: Principal | None = getattr(request.state, "principal", None)
        if admitted is not None:
            return admitted
        options: ApiOptions = request.app.state.options
        client = request.client.host if request.client else ""
        principal = authenticate(
            options.keys, self.scope, request.headers.get("authorization"), client
        )
        if self.rate_limited:
            limiter: TokenBuckets = request.app.state.score_limiter
            wait = limiter.take(principal.rate_key)
            if wait > 0:
                seconds = retry_after(wait)
                raise HTTPException(
                    status_code=429,
                    detail=f"too many scoring requests: each client may send "
                    f"{limiter.rate:g} per second, in bursts of up to {limiter.burst} "
                    f"(ANOMALY_SCORE_RATE_PER_S, ANOMALY_SCORE_BURST); retry in {seconds} s",
                    headers={"Retry-After": str(seconds)},
                )
        request.state.principal = principal
        return principal

    async def __call__(
        self,
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        return self.admit(request)


read_access = Access(READ)
admin_access = Access(ADMIN)
score_access = Access(READ, rate_limited=True)

ReadAccess = Annotated[Principal, Depends(read_access)]
AdminAccess = Annotated[Principal, Depends(admin_access)]
ScoreAccess = Annotated[Principal, Depends(score_access)]
