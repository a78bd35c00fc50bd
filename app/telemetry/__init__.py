"""Telemetry decoded from the wire into what the scoring step takes (``incidents.points``): the
engine's own JSON messages of metrics (:mod:`app.telemetry.messages`) and of log and behaviour
events (:mod:`app.telemetry.events`), and the formats collectors write, OTLP, Prometheus, Influx
and JSON log lines (:mod:`app.telemetry.formats`). Pure: no Kafka client, no Faust, no HTTP
server."""

import detectors.kernel  # noqa: F401  (first: the compiled modules, when built)
