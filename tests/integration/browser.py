"""Headless Chromium for browser tests: Debian's `chromium`, driven by Playwright.

:func:`chromium_path` finds the browser (``CHROMIUM_BIN``, else ``/usr/bin/chromium``, else
``chromium`` on PATH); when there is none it runs ``scripts/install-chromium.sh``, which installs
Debian's package. Playwright never downloads a browser of its own here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "scripts" / "install-chromium.sh"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str | None:
    given = os.environ.get("CHROMIUM_BIN")
    if given:
        return given
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def chromium_path() -> str:
    """The Chromium binary, installing Debian's package first when none is found."""
    found = find_chromium()
    if found:
        return found
    done = subprocess.run(
        ["bash", str(INSTALLER)], capture_output=True, text=True, timeout=900, check=False
    )
    found = find_chromium()
    if done.returncode != 0 or not found:
        raise RuntimeError(
            "Chromium is not installed and scripts/install-chromium.sh could not install it "
            f"(exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    return found
