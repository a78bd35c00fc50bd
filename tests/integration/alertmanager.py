"""A real Prometheus Alertmanager for integration tests, on a free loopback port.

:func:`start_alertmanager` finds the binary (``ALERTMANAGER_BIN``, else ``prometheus-alertmanager``
or ``alertmanager`` on PATH; when there is none it runs ``scripts/install-alertmanager.sh``, which
installs Debian's ``prometheus-alertmanager``), writes a minimal configuration (one receiver that
sends nowhere, short group timings), starts it with its storage in the test's temporary directory
and clustering disabled, and waits until ``GET /-/ready`` answers 200.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "scripts" / "install-alertmanager.sh"
BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")

CONFIG = """\
route:
  receiver: "null"
  group_by: ["incident_id"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
"""


def find_binary() -> str | None:
    given = os.environ.get("ALERTMANAGER_BIN")
    if given:
        return given
    for name in BINARY_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_binary() -> str:
    """The Alertmanager binary, installing Debian's package first when none is found."""
    found = find_binary()
    if found:
        return found
    done = subprocess.run(
        ["bash", str(INSTALLER)], capture_output=True, text=True, timeout=600, check=False
    )
    found = find_binary()
    if done.returncode != 0 or not found:
        raise RuntimeError(
            "Alertmanager is not installed and scripts/install-alertmanager.sh could not install "
            f"it (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = ""
) -> None:
    """Poll ``condition`` (another process's state) until true; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or 'a condition'}")
        time.sleep(interval)


class AlertmanagerProcess:
    """A running Alertmanager; ``url`` is its base URL. Stop it with :meth:`stop`."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def ready_or_exited(self) -> bool:
        return self.process.poll() is not None or self.ready()

    def alerts(self, **params: Any) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` with query parameters (``active``, ``silenced``, ``filter``...).

        Booleans become ``true``/``false``; ``filter`` may be a list of matchers such as
        ``'incident_id="inc-1"'``.
        """
        query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
        response = httpx.get(f"{self.url}/api/v2/alerts", params=query, timeout=5.0)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> AlertmanagerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_alertmanager(tmp_path: Path, timeout: float = 30.0) -> AlertmanagerProcess:
    """Start Alertmanager with its files under ``tmp_path`` and wait until it is ready."""
    binary = ensure_binary()
    home = tmp_path / "alertmanager"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config = home / "alertmanager.yml"
    config.write_text(CONFIG)
    last_error = ""
    for _ in range(3):  # a port taken between free_port() and the bind: try another
        port = free_port()
        log_path = home / f"alertmanager-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.path={home / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    "--log.level=info",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        am = AlertmanagerProcess(process, port, log_path)
        try:
            wait_until(
                am.ready_or_exited,
                timeout,
                what=f"Alertmanager on port {port} to be ready",
            )
        except TimeoutError:
            am.stop()
            raise RuntimeError(
                f"Alertmanager did not become ready within {timeout}s:\n{am.log()[-3000:]}"
            ) from None
        if am.process.poll() is None:
            return am
        last_error = am.log()[-3000:]
    raise RuntimeError(f"Alertmanager exited at start:\n{last_error}")
