"""The packages' layering (the design's package table; README names what each package holds),
read from the source with ``ast``, nothing imported or run; imports inside functions and under
``TYPE_CHECKING`` count.

- ``detectors/`` imports the standard library, numpy and itself only (and, in the adaptive
  walk, mypyc's runtime library where it is installed);
- ``incidents/`` imports ``detectors/``, itself, the standard library, numpy and httpx (its
  channels' HTTP client), never ``app/`` or ``api/``;
- ``api/`` imports no ``app/`` module: the engine reaches it as an interface that ``app/`` hands it;
- ``app/telemetry/`` (wire formats decoded into points and events) imports no Kafka client;
- no import cycle among the packages' modules.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def _load_import_cycles():
    spec = importlib.util.spec_from_file_location(
        "import_cycles", ROOT / "scripts" / "import_cycles.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


import_cycles = _load_import_cycles()


def top_level_imports(path: Path) -> set[str]:
    """The top-level names of the absolute imports anywhere in ``path`` (a relative import is
    its own package's)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.partition(".")[0])
    return found


def imports_of(folder: str) -> dict[str, set[str]]:
    """Top-level names each module under ``folder`` (relative to the root) imports."""
    return {
        str(path.relative_to(ROOT)): top_level_imports(path)
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def violations(folder: str, allowed: set[str]) -> dict[str, list[str]]:
    """The modules under ``folder`` that import something outside ``allowed`` (and outside the
    standard library), with what."""
    found = {
        module: sorted(names - allowed - STDLIB) for module, names in imports_of(folder).items()
    }
    return {module: names for module, names in found.items() if names}


def test_detectors_import_the_standard_library_numpy_and_themselves_only() -> None:
    # but the adaptive walk's reads and writes of doubles from mypyc's runtime library where
    # it is installed (it comes with mypy, which builds the compiled modules), else
    # detectors/_f64.py's
    assert violations("detectors", {"detectors", "numpy"}) == {
        "detectors/adaptive_step.py": ["librt"]
    }


def test_incidents_import_detectors_numpy_and_httpx_never_app_or_api() -> None:
    assert violations("incidents", {"incidents", "detectors", "numpy", "httpx"}) == {}


def test_api_imports_no_app_module() -> None:
    importers = {module for module, names in imports_of("api").items() if "app" in names}
    assert importers == set()


def test_telemetry_decoding_imports_no_kafka_client() -> None:
    kafka = {"faust", "aiokafka", "confluent_kafka", "mode"}
    found = {m: sorted(n & kafka) for m, n in imports_of("app/telemetry").items() if n & kafka}
    assert found == {}


def test_no_import_cycle_among_the_packages_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    files = {
        import_cycles.module_name(path): path
        for package in import_cycles.PACKAGES
        for path in Path(package).rglob("*.py")
    }
    graph = {m: import_cycles.imports(m, path, set(files)) for m, path in files.items()}
    assert len(files) > 100  # the walk found the packages
    assert import_cycles.cycles(graph) == []


def test_a_violation_is_reported(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.worker import engine\n"
        "def f():\n    import faust\n"
    )
    assert top_level_imports(module) == {"typing", "app", "faust"}
