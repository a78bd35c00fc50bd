"""An embedded Apache Kafka: one combined broker/controller in KRaft mode, durable on disk.

The data folder keeps everything a restart needs: ``node.json`` (cluster id and ports), the
formatted log directory ``logs/`` and the broker's output ``server.log``. Storage is formatted
once; a restart reuses it, so topics, configurations, table changelogs and incidents are still
there. Ports are the preferred client port (else any free one) and, for the controller, the one
used last time when it is free. Start-up returns once the broker answers a metadata request
naming itself, not after a fixed sleep.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from app.worker.kafka.broker import BrokerError, _die_with_parent, free_port, port_is_free
from app.worker.kafka.kafka_runtime import KAFKA_VERSION, require_java, resolve_jars

log = logging.getLogger(__name__)

# Topic defaults for a single node: every replicated internal topic fits on one broker.
SINGLE_NODE_CONFIG = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    # A consumer group's first join completes at once instead of after 3 s.
    "group.initial.rebalance.delay.ms": "0",
}
# A development broker: a small heap, and only the quick JIT tier, which halves start-up here
# (cold 11.0 -> 5.6 s, warm 5.4 -> 2.4 s at load ~6) for some peak throughput it does not need.
JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in Kafka's URL-safe base64 form (22 characters).

    One in 64 of those starts with ``-``, which the storage tool's ``-t`` reads as an option
    ("expected one argument"); Kafka's own ``Uuid.randomUuid`` draws again in that case, and so
    does this.
    """
    cluster_id = "-"
    while cluster_id.startswith("-"):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    return cluster_id


def metadata_brokers(host: str, port: int, timeout: float = 2.0) -> int:
    """How many brokers a Metadata (v4) answer from ``host:port`` lists; raises OSError if none.

    A bare request over a socket, so a probe needs no client library and no event loop.
    """
    client_id = b"anomaly-engine-probe"
    header = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id
    body = struct.pack(">i?", -1, False)  # all topics (none here), no auto-creation
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _read_exactly(sock, 4))[0]
        answer = _read_exactly(sock, size)
    # correlation id, throttle time, then the brokers array's length
    correlation, _throttle, brokers = struct.unpack(">iii", answer[:12])
    if correlation != 1:
        raise OSError("unexpected Metadata answer")
    return int(brokers)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise OSError("connection closed")
        chunks += chunk
    return chunks


class EmbeddedKafka:
    """Apache Kafka on loopback, with its storage in ``data_dir``; a context manager.

    ``bootstrap`` is the address to give clients. ``extra_config`` adds or replaces broker
    properties (e.g. for a multi-node cluster, see ``node_id`` and ``voters``).
    """

    kind = "kafka"

    def __init__(
        self,
        data_dir: Path,
        preferred_port: int = 9092,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.preferred_port = preferred_port
        self.host = host
        self.log_path = log_path or self.data_dir / "server.log"
        self.extra_config = dict(extra_config or {})
        self.port = 0
        self.controller_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def _node(self) -> dict[str, object]:
        """The cluster id and ports kept from the last start (new ones on the first)."""
        path = self.data_dir / "node.json"
        node: dict[str, object] = {}
        if path.exists():
            node = json.loads(path.read_text())
        if not (self.logs_dir / "meta.properties").exists():
            node["cluster_id"] = new_cluster_id()  # storage is (re)formatted below
        port = self.preferred_port
        if not port or not port_is_free(port, self.host):
            port = free_port(self.host)
        controller = int(node.get("controller_port") or 0)  # type: ignore[call-overload]
        if not controller or controller == port or not port_is_free(controller, self.host):
            controller = free_port(self.host)
            while controller == port:
                controller = free_port(self.host)
        node.update(port=port, controller_port=controller)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(node, indent=1) + "\n")
        return node

    def server_properties(self, cluster_id: str) -> dict[str, str]:
        listeners = (
            f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}"
        )
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": listeners,
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.logs_dir.resolve()),
            **SINGLE_NODE_CONFIG,
            **self.extra_config,
        }
        return config

    def start(self, timeout: float = 60.0) -> EmbeddedKafka:
        """Launch the broker and return once it answers (see :meth:`await_ready`)."""
        self.launch()
        try:
            self.await_ready(timeout)
        except BrokerError:
            self.stop()
            raise
        log.info("embedded Apache Kafka %s listening on %s", KAFKA_VERSION, self.bootstrap)
        return self

    def launch(self) -> None:
        """Format the storage on first use and start the broker process, without waiting.

        Call from the thread that outlives the broker: it is stopped when that thread ends
        (``PR_SET_PDEATHSIG``), so a crash of this process never leaves a broker behind."""
        java = require_java()
        libs = resolve_jars()
        node = self._node()
        self.port = int(node["port"])  # type: ignore[call-overload]
        self.controller_port = int(node["controller_port"])  # type: ignore[call-overload]
        config_path = self.data_dir / "server.properties"
        lines = [f"{k}={v}" for k, v in self.server_properties(str(node["cluster_id"])).items()]
        config_path.write_text("\n".join(lines) + "\n")
        classpath = f"{libs}/*"
        base = [java, *JVM_OPTIONS, "-cp", classpath]
        if not (self.logs_dir / "meta.properties").exists():
            self._format(base, config_path, str(node["cluster_id"]))
        command = [
            *base,
            f"-Dkafka.logs.dir={self.data_dir.resolve()}",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "kafka.Kafka",
            str(config_path),
        ]
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, stopped as a whole
                preexec_fn=_die_with_parent,
            )

    def _format(self, base: list[str], config_path: Path, cluster_id: str) -> None:
        command = [*base, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c"]
        done = subprocess.run(
            [*command, str(config_path)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise BrokerError(
                f"formatting Kafka storage in {self.logs_dir} failed:\n"
                f"{(done.stdout + done.stderr).strip()[-2000:]}"
            )

    def await_ready(self, timeout: float) -> None:
        """Return once the broker answers a metadata request naming a broker."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"Apache Kafka exited with code {self.process.returncode} while starting"
                    f"{self._why()}"
                )
            try:
                if metadata_brokers(self.host, self.port) > 0:
                    return
            except (OSError, struct.error):
                pass
            time.sleep(0.1)
        raise BrokerError(
            f"Apache Kafka did not answer on {self.bootstrap} within {timeout:.0f} s{self._why()}"
        )

    def _why(self) -> str:
        """The end of the broker's log, with a plain word when a port was taken."""
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-400:]
        except OSError:
            return ""
        if any("Address already in use" in line for line in tail):
            return (
                f": a port was taken ({self.port} for clients or {self.controller_port} for the "
                f"controller); see {self.log_path}"
            )
        errors = [line for line in tail if " ERROR " in line or "Exception" in line][-5:]
        return f"; see {self.log_path}" + ("".join(f"\n  {line}" for line in errors))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker's process group: SIGTERM (a clean shutdown), then SIGKILL."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=timeout)
        _signal_group(process, signal.SIGKILL)  # anything it left in its group
        log.info("embedded Apache Kafka on port %d stopped", self.port)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would (for fault tests)."""
        process, self.process = self.process, None
        if process is not None:
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
