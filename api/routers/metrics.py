"""`GET /metrics`: the worker's counters in Prometheus' text exposition format.

Open like `/health`, so a Prometheus server scrapes it without a key. The engine offers its
registry as ``metrics_registry`` (``app.worker.metrics``); an engine without one (a test fake) serves the
process-wide default registry.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from api.deps import EngineDep

router = APIRouter(tags=["metrics"])

EXAMPLE = """\
# HELP anomaly_messages_total Telemetry messages consumed, by topic
# TYPE anomaly_messages_total counter
anomaly_messages_total{topic="telemetry.metrics"} 1204.0
# HELP anomaly_points_scored_total Points scored and learned, by model (streamed and REST, not dry runs)
# TYPE anomaly_points_scored_total counter
anomaly_points_scored_total{model_id="metrics-v1"} 120400.0
# HELP anomaly_incidents_opened_total Incidents opened, by model
# TYPE anomaly_incidents_opened_total counter
anomaly_incidents_opened_total{model_id="metrics-v1"} 3.0
# HELP anomaly_consumer_lag Records of an assigned partition not yet committed by this worker's consumer group (high watermark minus committed offset)
# TYPE anomaly_consumer_lag gauge
anomaly_consumer_lag{partition="1",topic="telemetry.metrics"} 12.0
"""


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format (OpenMetrics when the Accept header "
            "asks for application/openmetrics-text)",
            "content": {
                "text/plain": {"schema": {"type": "string"}, "example": EXAMPLE},
                "application/openmetrics-text": {
                    "schema": {"type": "string"},
                    "example": EXAMPLE + "# EOF\n",
                },
            },
        }
    },
)
async def metrics(request: Request, engine: EngineDep) -> Response:
    """Counters of this worker since it started: telemetry messages and points in per topic,
    points scored, anomalies, alerts, alerts suppressed by reason and incidents opened and
    resolved per model, deliveries by channel and outcome, dead-lettered messages per topic,
    consumer lag per partition, and a histogram of seconds per scored message. No entity labels.
    Prometheus sums the counters over workers. Open, like `/health`."""
    registry = getattr(engine, "metrics_registry", None) or REGISTRY
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(content=encoder(registry), media_type=content_type)
