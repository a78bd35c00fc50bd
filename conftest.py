# The module entry point runs the CLI when imported; keep doctest collection away from it.
collect_ignore = ["app/__main__.py"]


def pytest_report_header(config: object) -> str:
    """Name the integration tests' broker (Apache Kafka or Tansu, see tests/integration/harness)."""
    from tests.integration.harness import session_broker

    return f"integration broker: {session_broker()}"
