"""Compile :data:`detectors.kernel.MODULES` with mypyc into ``detectors/_compiled/``.

``python scripts/build_kernel.py`` (``make kernel``; ``make`` runs it before the engine and the
tests): nothing to do when the build's digest equals the sources'; else compiles the modules as
one mypyc group from their own sources (type-checked against the whole tree) into a fresh
folder, then writes the digest of the sources it was built from, last, so a failed build leaves
nothing that would load. Without a C compiler or Python's headers it says so and exits 0: the
engine runs the same modules as Python, slower (see :mod:`detectors.kernel`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.kernel import BUILD, GROUP, MODULES, choose, source_digest, source_path  # noqa: E402

SETUP = """
from mypyc.build import mypycify
from setuptools import setup

setup(
    name="anomaly-engine-compiled",
    packages=[],
    py_modules=[],
    ext_modules=mypycify({paths!r}, group_name={group!r}, target_dir="build/kernel"),
    script_args=["build_ext", "--build-lib", {out!r}, "--build-temp", "build/kernel/temp"],
)
"""


def main() -> int:
    digest = source_digest()
    if choose("")[1] == "compiled (mypyc)":
        print(f"compiled modules in {BUILD.relative_to(ROOT)} are up to date", flush=True)
        return 0
    shutil.rmtree(BUILD, ignore_errors=True)
    paths = [str(source_path(name).relative_to(ROOT)) for name in MODULES]
    print(f"compiling {len(MODULES)} modules with mypyc ({', '.join(MODULES)}) ...", flush=True)
    started = time.monotonic()
    setup = SETUP.format(paths=paths, group=GROUP, out=str(BUILD))
    done = subprocess.run(
        [sys.executable, "-c", setup], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        shutil.rmtree(BUILD, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        print(
            f"{tail}\nthe modules were not compiled (above: the compiler's last lines); the "
            "engine runs them as Python, slower",
            file=sys.stderr,
        )
        return 0
    (BUILD / "SOURCE_DIGEST").write_text(digest + "\n")
    took = time.monotonic() - started
    print(f"compiled modules in {BUILD.relative_to(ROOT)} ({took:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
