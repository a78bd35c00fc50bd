"""EmbeddedBroker: starts the real Tansu binary on loopback, falls back to a free port, stops cleanly.

No network beyond 127.0.0.1 is needed; each test starts and stops its own broker.
"""

from __future__ import annotations

import socket
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.worker.kafka.broker import BrokerError, EmbeddedBroker, free_port, port_is_free

CORRELATION_ID = 4242


def _api_versions(host: str, port: int) -> tuple[int, int]:
    """Send a Kafka ApiVersions v0 request; return (correlation id, error code) of the answer."""
    client_id = b"unit-test"
    body = struct.pack(">hhih", 18, 0, CORRELATION_ID, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        header = _read(sock, 4)
        (size,) = struct.unpack(">i", header)
        payload = _read(sock, size)
    correlation_id, error_code = struct.unpack(">ih", payload[:6])
    return correlation_id, error_code


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the broker closed the connection"
        data += chunk
    return data


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_starts_on_the_preferred_port_speaks_kafka_and_frees_the_port() -> None:
    port = free_port()
    broker = EmbeddedBroker(preferred_port=port).start()
    try:
        assert broker.port == port
        assert broker.bootstrap == f"127.0.0.1:{port}"
        assert _api_versions("127.0.0.1", port) == (CORRELATION_ID, 0)
        assert not port_is_free(port)
        process = broker.process
        assert process is not None and process.poll() is None
    finally:
        broker.stop()
    assert process.poll() is not None, "stop() must wait for the broker to exit"
    assert broker.process is None
    assert port_is_free(port)


def test_falls_back_to_a_free_port_when_the_preferred_one_is_taken(taken_port: int) -> None:
    with EmbeddedBroker(preferred_port=taken_port) as broker:
        assert broker.port not in (0, taken_port)
        assert broker.bootstrap == f"127.0.0.1:{broker.port}"
        assert _api_versions("127.0.0.1", broker.port) == (CORRELATION_ID, 0)
        fallback = broker.port
    assert port_is_free(fallback)


def test_port_zero_means_any_free_port() -> None:
    with EmbeddedBroker(preferred_port=0) as broker:
        assert broker.port > 0
        assert _api_versions("127.0.0.1", broker.port)[0] == CORRELATION_ID


def test_stop_is_idempotent() -> None:
    broker = EmbeddedBroker(preferred_port=0)
    broker.stop()  # never started
    broker.start()
    broker.stop()
    broker.stop()
    assert broker.process is None


def test_broker_log_goes_to_the_log_file(tmp_path: Path) -> None:
    log_path = tmp_path / "tansu.log"
    with EmbeddedBroker(preferred_port=0, log_path=log_path) as broker:
        _api_versions("127.0.0.1", broker.port)
        port = broker.port
    assert f"tcp://127.0.0.1:{port}" in log_path.read_text()


def test_a_binary_that_is_not_executable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tansu"
    path.write_text("not a program")
    monkeypatch.setenv("TANSU_BIN", str(path))
    with pytest.raises(BrokerError, match=r"TANSU_BIN=.* is not an executable file"):
        EmbeddedBroker(preferred_port=0).start()


def test_a_broker_that_exits_at_once_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tansu"
    path.write_text("#!/bin/sh\nexit 3\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("TANSU_BIN", str(path))
    broker = EmbeddedBroker(preferred_port=0)
    with pytest.raises(BrokerError, match="the embedded broker exited with code 3"):
        broker.start(timeout=10)
    assert broker.process is None
    assert port_is_free(broker.port)
