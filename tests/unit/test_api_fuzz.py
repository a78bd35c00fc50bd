"""Schemathesis against the API's own OpenAPI schema, in process over the fake engine.

Every operation gets generated requests, schema-valid and schema-violating; none may get a 5xx,
and every response must match what the schema declares for it: status code, body, content type,
headers (`Allow`, `WWW-Authenticate`, `Retry-After`), and schema-violating requests are refused.
Examples are bounded and derandomized, so a run is repeatable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import create_api
from api.engine import EngineUnavailable
from api.options import ApiOptions
from api.security import KeyRing
from tests.unit.test_api import FakeEngine

# schemathesis gives every operation's test the same id, which pytest-xdist collapses into one
# test: `make test` runs this file in one process after the rest (the `serial` marker).
pytestmark = pytest.mark.serial

ADMIN_KEY = "fuzz-admin-key-0123456789"
OPTIONS = ApiOptions(
    keys=KeyRing(admin_keys=[ADMIN_KEY], read_keys=["fuzz-read-key-0123456789"]),
    score_rate_per_s=1e6,
    score_burst=1_000_000,
)
MAX_EXAMPLES = 30
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
# A schema-valid request may still break a rule JSON Schema cannot state (mean and std of equal
# length, labels as many as records, k <= n): those get a 422, which this check would call a
# failure. Every other check runs, `not_a_server_error` and `response_schema_conformance` included.
EXCLUDED = [positive_data_acceptance]

schema = schemathesis.openapi.from_asgi("/openapi.json", create_api(FakeEngine(), OPTIONS))


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Print past pytest's output capture, so every run shows the figures."""
    capture: Any = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(line)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """Cases run per operation; reported at the end, and each operation must have had some."""
    counts: Counter[str] = Counter()
    yield counts
    report(
        request, f"\nin-process fuzz: {sum(counts.values())} cases over {len(counts)} operations"
    )
    assert len(counts) == len(list(schema.get_all_operations()))
    assert min(counts.values()) >= 5, counts


def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    """Drop generated queries with a list of fewer than two values for a parameter: on the wire
    an empty list is nothing and ``[x]`` is ``?p=x``, so the "schema-violating" request that
    arrives is a valid one (a false alarm). Two or more values are refused (api.routing)."""
    return not any(isinstance(v, list) and len(v) < 2 for v in (query or {}).values())


@schema.hooks.apply(filter_query)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_response_matches_the_schema(
    case: schemathesis.Case, tally: Counter[str]
) -> None:
    tally[case.operation.label] += 1
    case.call_and_validate(headers=AUTH, excluded_checks=EXCLUDED)


class BrokenEngine(FakeEngine):
    def list_configs(self) -> list[dict[str, Any]]:
        raise EngineUnavailable("the broker did not answer")


def test_the_fuzz_checks_catch_a_server_error() -> None:
    """The harness is not vacuous: an operation that answers 5xx fails the checks. (An
    unhandled exception in process fails louder: the ASGI transport re-raises it.)"""
    broken = schemathesis.openapi.from_asgi("/openapi.json", create_api(BrokenEngine(), OPTIONS))
    case = broken["/anomaly/config"]["GET"].Case()
    with pytest.raises(FailureGroup, match="Server error"):
        case.call_and_validate(headers=AUTH, excluded_checks=EXCLUDED)
