"""Schemathesis against a real worker's OpenAPI schema, over real HTTP.

The same checks as the in-process fuzz (tests/unit/test_api_fuzz.py), but every request reaches
the real engine: configurations go to the config topic and back, scoring goes through the owning
worker's agent, silences to their topic. None may get a 5xx; every response must match the schema.
The README's configuration is applied first, so the schema's own scoring example scores for real.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import create_api
from tests.integration.harness import README_CONFIG, EngineProcess, engine_env
from tests.unit.test_api import FakeEngine

ADMIN_KEY = "fuzz-admin-key-5d8e2b7a0c4f1936"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
MAX_EXAMPLES = 30  # per operation and per mode (schema-valid, schema-violating)
# As in process: a schema-valid request may break a rule JSON Schema cannot state (a 422).
EXCLUDED = [positive_data_acceptance]
# Generated garbage in these headers breaks HTTP framing: the HTTP server (uvicorn) answers 400
# before the app sees the request, which no OpenAPI schema describes. The app's own headers
# (Authorization) stay fuzzed.
FRAMING = {"content-length", "transfer-encoding", "host", "connection"}


@pytest.fixture(scope="module")
def fuzz_worker(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineProcess]:
    suffix = uuid.uuid4().hex[:8]
    topics = ("metrics", "logs", "behavior")
    names = {
        "app_id": f"fuzz-{suffix}",
        **{f"{t}_topic": f"fuzz-{suffix}.telemetry.{t}" for t in topics},
        **{
            f"{t}_topic": f"fuzz-{suffix}.anomaly.{t.replace('_', '-')}"
            for t in ("alerts", "config", "dlq", "score_requests", "silences", "audit")
        },
    }
    env = {
        **engine_env(bootstrap, names),
        "ANOMALY_ADMIN_KEY": ADMIN_KEY,
        "ANOMALY_SCORE_RATE_PER_S": "100000",
        "ANOMALY_SCORE_BURST": "100000",
    }
    worker = EngineProcess(env=env, workdir=Path(tmp_path_factory.mktemp("fuzz")))
    worker.start()
    try:
        worker.wait_ready()
        applied = httpx.post(worker.url + "/anomaly/config", json=README_CONFIG, headers=AUTH)
        assert applied.status_code == 200, applied.text
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def real_schema(fuzz_worker: EngineProcess) -> Any:
    return schemathesis.openapi.from_url(fuzz_worker.url + "/openapi.json")


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Print past pytest's output capture, so every run shows the figures."""
    capture: Any = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(line)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest, fuzz_worker: EngineProcess) -> Iterator[Counter[str]]:
    """Cases run per operation, reported at the end; the worker must have logged no
    unexpected error meanwhile."""
    counts: Counter[str] = Counter()
    yield counts
    operations = {k: v for k, v in counts.items() if not k.startswith("status ")}
    statuses = {k.split()[1]: v for k, v in sorted(counts.items()) if k.startswith("status ")}
    report(
        request,
        f"\nreal-worker fuzz: {sum(operations.values())} cases over {len(operations)} "
        f"operations; statuses {statuses}",
    )
    log = fuzz_worker.log_path.read_text(errors="replace")
    assert "unexpected error" not in log, fuzz_worker.log_tail(80)


# The operations, from the same code's schema in process (the worker's is loaded at run time).
OPERATIONS = [
    (operation.method.upper(), operation.path)
    for result in schemathesis.openapi.from_asgi(
        "/openapi.json", create_api(FakeEngine())
    ).get_all_operations()
    for operation in [result.ok()]
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_a_real_worker_answers_every_generated_request_by_its_schema(
    real_schema: Any, tally: Counter[str], method: str, path: str
) -> None:
    operation = real_schema[path][method]
    modes = [GenerationMode.POSITIVE]
    if list(operation.iter_parameters()) or operation.body.items:
        modes.append(GenerationMode.NEGATIVE)  # nothing to get wrong in a request without input
    for mode in modes:

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            tally[f"{method} {path}"] += 1
            for name in [h for h in case.headers or {} if h.lower() in FRAMING]:
                del case.headers[name]  # type: ignore[union-attr]
            response = case.call_and_validate(headers=AUTH, excluded_checks=EXCLUDED, timeout=30)
            tally[f"status {response.status_code}"] += 1

        run()
    # an operation without input has a single request to make
    assert tally[f"{method} {path}"] >= (MAX_EXAMPLES if len(modes) == 2 else 1)
