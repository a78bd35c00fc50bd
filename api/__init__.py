"""The REST API served from inside the worker: configuration, scoring, alerts, health."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.engine import Engine
from api.errors import install_error_handlers
from api.limits import BodyLimitMiddleware, TokenBuckets
from api.options import ApiOptions
from api.routers import alerts, config, health, score, series, silences, stats
from api.routers import metrics as metrics_router
from api.security import ADMIN, READ
from api.ui import install_ui

log = logging.getLogger(__name__)


def create_api(engine: Engine, options: ApiOptions | None = None) -> FastAPI:
    """The FastAPI application over ``engine``.

    ``options`` (keys, body limit, scoring rate) default to those of ``engine.settings`` when the
    engine carries the app's settings, else to :class:`ApiOptions`' defaults.
    """
    if options is None:
        options = ApiOptions.from_settings(getattr(engine, "settings", None))
    api = FastAPI(
        title="anomaly-engine",
        summary="Streaming anomaly detection on Kafka",
        version="0.1.0",
    )
    api.state.engine = engine
    api.state.options = options
    api.state.score_limiter = TokenBuckets(
        options.score_rate_per_s, options.score_burst, clock=options.clock
    )
    install_error_handlers(api)
    for module in (config, score, alerts, series, silences, stats, health):
        api.include_router(module.router)
    api.include_router(metrics_router.router)  # GET /metrics, open like /health
    install_ui(api)
    api.add_middleware(BodyLimitMiddleware, max_bytes=options.max_body_bytes)
    if options.keys.configured:
        log.info(
            "API keys required: admin key ids %s, read key ids %s",
            options.keys.ids(ADMIN) or "none",
            [k for k in options.keys.ids(READ) if k not in options.keys.ids(ADMIN)] or "none",
        )
    else:
        log.info("no API key configured: read endpoints open, write endpoints loopback only")
    return api
