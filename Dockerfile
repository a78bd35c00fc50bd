# The anomaly engine as a container image. Built by `docker compose up --build` (see docker-compose.yml),
# or alone: `docker build -t anomaly-engine .` and run with KAFKA_BOOTSTRAP_SERVERS pointing at a broker.
# Without KAFKA_BOOTSTRAP_SERVERS the engine would start its embedded broker instead (fine for a demo,
# but the image is meant to run against a real Kafka).

# --- build: install the package and its dependencies into a virtualenv ---------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# README* is optional: pyproject names README.md as the long description.
COPY pyproject.toml README* ./
COPY app ./app
COPY api ./api
COPY detectors ./detectors
COPY incidents ./incidents
RUN pip install .

# --- runtime: the virtualenv only, no sources, run as an unprivileged user ------------------------------
FROM python:3.11-slim

RUN groupadd --system --gid 10001 anomaly \
    && useradd --system --uid 10001 --gid anomaly --home-dir /var/lib/anomaly-engine \
       --create-home --shell /usr/sbin/nologin anomaly

COPY --from=build /opt/venv /opt/venv

# Inside a container the API must listen on every interface to be reachable through a published port.
# ANOMALY_DATA_DIR is Faust's table/state directory, writable by the unprivileged user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ANOMALY_API_HOST=0.0.0.0 \
    ANOMALY_API_PORT=8000 \
    ANOMALY_DATA_DIR=/var/lib/anomaly-engine/data

USER anomaly
WORKDIR /var/lib/anomaly-engine

EXPOSE 8000

# /health answers 200 while starting; healthy means status "ok" (tables recovered, views loaded).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import json, os, sys, urllib.request; port = os.environ.get('ANOMALY_API_PORT', '8000'); body = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4)); sys.exit(0 if body.get('status') == 'ok' else 1)"]

ENTRYPOINT ["anomaly-engine"]
CMD ["run"]
