from pathlib import Path

import pytest

from detectors.kernel import KERNEL, MODULES, source_path

# The module entry point runs the CLI when imported; keep doctest collection away from it.
collect_ignore = ["app/__main__.py"]
if KERNEL == "compiled (mypyc)":
    # Compiled modules keep no docstrings: tests/unit/test_kernel.py runs their doctests (and the
    # tests marked python_modules) against the Python sources, in a process that runs those.
    here = Path(__file__).parent
    collect_ignore += [str(source_path(name).relative_to(here)) for name in MODULES]


def pytest_report_header(config: object) -> str:
    """Name the integration tests' broker (Apache Kafka or Tansu, see tests/integration/harness)
    and which modules run, compiled or Python (detectors/kernel.py)."""
    from tests.integration.harness import session_broker

    return f"integration broker: {session_broker()}\ncompiled modules: {KERNEL}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that swap a module's internals for their plain forms (``python_modules``) reach
    only Python code; where the compiled modules run, tests/unit/test_kernel.py runs them in a
    process of Python modules."""
    if KERNEL != "compiled (mypyc)":
        return
    skip = pytest.mark.skip(reason="patches Python internals: run by tests/unit/test_kernel.py")
    for item in items:
        if item.get_closest_marker("python_modules") is not None:
            item.add_marker(skip)
