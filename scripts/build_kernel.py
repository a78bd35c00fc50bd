"""Compile the adaptive detector's kernel with mypyc into ``detectors/_compiled/``.

``python scripts/build_kernel.py`` (``make kernel``; ``make`` runs it before the engine and the
tests). Copies :data:`detectors.kernel.MODULES` into the package ``detectors._compiled`` (their
imports of each other pointed at the copies), compiles them together with mypyc, then writes the
package's ``__init__.py`` with the digest of the sources it was built from, last, so a failed
build leaves nothing that would load. Without a C compiler or Python's headers it says so and
exits 0: the engine runs the same kernel as Python, slower (see :mod:`detectors.kernel`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.kernel import COMPILED, MODULES, source_digest  # noqa: E402

OUT = ROOT / Path(*COMPILED.split("."))
SETUP = """
from mypyc.build import mypycify
from setuptools import setup

setup(
    name="anomaly-engine-kernel",
    packages=[],
    py_modules=[],
    ext_modules=mypycify({paths!r}, group_name={group!r}, target_dir="build/kernel"),
    script_args=["build_ext", "--inplace", "--build-temp", "build/kernel/temp"],
)
"""


def copy_sources() -> list[str]:
    """The kernel's modules copied into :data:`OUT`, imports pointed at the copies."""
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    pattern = re.compile(r"^from detectors\.(" + "|".join(MODULES) + r") import", re.MULTILINE)
    paths = []
    for name in MODULES:
        text = (ROOT / "detectors" / f"{name}.py").read_text()
        target = OUT / f"{name}.py"
        target.write_text(pattern.sub(rf"from {COMPILED}.\1 import", text))
        paths.append(str(target.relative_to(ROOT)))
    return paths


def main() -> int:
    digest = source_digest()
    paths = copy_sources()
    print(f"compiling the adaptive kernel with mypyc ({', '.join(MODULES)}) ...", flush=True)
    setup = SETUP.format(paths=paths, group=f"{COMPILED}.kernel")
    done = subprocess.run(
        [sys.executable, "-c", setup], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        shutil.rmtree(OUT, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        print(
            f"{tail}\nthe compiled kernel was not built (above: the compiler's last lines); the "
            "engine runs the same kernel as Python, about 3x slower per point",
            file=sys.stderr,
        )
        return 0
    (OUT / "__init__.py").write_text(
        '"""The adaptive kernel compiled by scripts/build_kernel.py (not in git)."""\n\n'
        f'SOURCE_DIGEST = "{digest}"\n'
    )
    print(f"compiled kernel in {OUT.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
