"""The REST API served from inside the worker: configuration, scoring, alerts, health."""

from __future__ import annotations

from fastapi import FastAPI

from api.engine import Engine
from api.errors import install_error_handlers
from api.routers import alerts, config, health, score, silences, stats


def create_api(engine: Engine) -> FastAPI:
    """The FastAPI application over ``engine``."""
    api = FastAPI(
        title="anomaly-engine",
        summary="Streaming anomaly detection on Kafka",
        version="0.1.0",
    )
    api.state.engine = engine
    install_error_handlers(api)
    for module in (config, score, alerts, silences, stats, health):
        api.include_router(module.router)
    return api
