"""The embedded Apache Kafka's launcher: which broker starts, and what it says when it cannot.

Java and Maven are replaced by small scripts on a temporary PATH, so these run without the jars;
the real broker runs in tests/integration/test_make_run_kafka.py and the integration suite.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from app.worker.kafka.broker import BrokerError
from app.worker.kafka.embedded import choose_kind, start_embedded
from app.worker.kafka.kafka_broker import EmbeddedKafka, new_cluster_id
from app.worker.kafka.kafka_runtime import (
    KAFKA_VERSION,
    MARKER,
    POM,
    KafkaRuntimeError,
    cache_dir,
    require_java,
    resolve_jars,
)


def script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def fake_java(folder: Path, version: str, run: str = "exit 0") -> Path:
    """A `java` that reports ``version`` and runs the shell snippet ``run`` for anything else."""
    return script(
        folder,
        "java",
        f'if [ "$1" = "-version" ]; then echo \'openjdk version "{version}"\' >&2; exit 0; fi\n'
        + run,
    )


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds only an empty folder, no JAVA_HOME, a private jar cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("ANOMALY_KAFKA_CACHE", str(tmp_path / "cache"))
    return bin_dir


def test_auto_chooses_kafka_with_java_17_or_newer_and_tansu_otherwise() -> None:
    assert choose_kind("auto", 17) == "kafka"
    assert choose_kind("auto", 21) == "kafka"
    assert choose_kind("auto", 11) == "tansu"
    assert choose_kind("auto", None) == "tansu"


def test_anomaly_broker_forces_either_broker_whatever_java_is() -> None:
    assert choose_kind("kafka", None) == "kafka"
    assert choose_kind("tansu", 21) == "tansu"
    with pytest.raises(BrokerError, match="expected auto, kafka or tansu"):
        choose_kind("redpanda", 21)


def test_without_java_auto_starts_tansu(bare_path: Path, tmp_path: Path) -> None:
    broker = start_embedded("auto", tmp_path / "kafka", preferred_port=0)
    try:
        assert broker.kind == "tansu"
    finally:
        broker.stop()


def test_no_java_is_named(bare_path: Path) -> None:
    with pytest.raises(KafkaRuntimeError, match="needs Java 17 or newer and no 'java' was found"):
        require_java()


def test_an_old_java_is_named_with_its_version(bare_path: Path) -> None:
    fake_java(bare_path, "11.0.2")
    with pytest.raises(KafkaRuntimeError, match=r"needs Java 17 or newer; .*java is Java 11"):
        require_java()


def test_java_home_wins_over_path(bare_path: Path, tmp_path: Path, monkeypatch) -> None:
    fake_java(bare_path, "11.0.2")
    home = tmp_path / "jdk"
    java = fake_java(home / "bin", "21.0.1")
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert require_java() == str(java)


def test_no_maven_is_named_when_the_jars_are_not_cached(bare_path: Path) -> None:
    with pytest.raises(KafkaRuntimeError, match=r"fetching it needs Maven \('mvn' is not on PATH"):
        resolve_jars()


def test_cached_jars_need_no_maven(bare_path: Path) -> None:
    cache = cache_dir()
    (cache / "libs").mkdir(parents=True)
    (cache / MARKER).write_text(KAFKA_VERSION)
    assert resolve_jars() == cache / "libs"


def test_a_failed_download_says_so_and_leaves_no_marker(bare_path: Path) -> None:
    script(bare_path, "mvn", "echo 'Could not transfer artifact from central' >&2; exit 1")
    with pytest.raises(KafkaRuntimeError, match=r"(?s)mvn exited with 1.*Could not transfer"):
        resolve_jars()
    assert not (cache_dir() / MARKER).exists()


def test_a_complete_download_is_marked_and_reused(bare_path: Path, tmp_path: Path) -> None:
    calls = tmp_path / "mvn-calls"
    script(
        bare_path,
        "mvn",
        f'echo run >> {calls}\nfor a in "$@"; do case "$a" in -DoutputDirectory=*) '
        f'd="${{a#-DoutputDirectory=}}";; esac; done\n'
        f'/bin/mkdir -p "$d" && /bin/touch "$d/kafka_2.13-{KAFKA_VERSION}.jar"',
    )
    libs = resolve_jars()
    assert (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists()
    assert (cache_dir() / MARKER).exists()
    assert resolve_jars() == libs
    assert calls.read_text().count("run") == 1


def test_the_pom_pins_the_version_the_launcher_expects() -> None:
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert found and found.group(1) == KAFKA_VERSION


def test_a_taken_port_is_named_when_kafka_exits(bare_path: Path, tmp_path: Path) -> None:
    cache = cache_dir()
    (cache / "libs").mkdir(parents=True)
    (cache / MARKER).write_text(KAFKA_VERSION)
    fake_java(
        bare_path,
        "17.0.15",
        'case "$*" in *StorageTool*) exit 0;; esac\n'
        "echo 'ERROR java.net.BindException: Address already in use'; exit 1",
    )
    broker = EmbeddedKafka(tmp_path / "kafka", preferred_port=0)
    with pytest.raises(BrokerError, match="Apache Kafka exited with code 1.*a port was taken"):
        broker.start(timeout=30)
    assert broker.process is None


def test_a_failed_format_shows_the_tool_output(bare_path: Path, tmp_path: Path) -> None:
    cache = cache_dir()
    (cache / "libs").mkdir(parents=True)
    (cache / MARKER).write_text(KAFKA_VERSION)
    fake_java(bare_path, "17.0.15", "echo 'Invalid cluster.id' >&2; exit 1")
    with pytest.raises(BrokerError, match=r"(?s)formatting Kafka storage .* failed.*Invalid"):
        EmbeddedKafka(tmp_path / "kafka", preferred_port=0).start()


def test_the_cluster_id_and_controller_port_are_kept_for_the_next_start(tmp_path: Path) -> None:
    broker = EmbeddedKafka(tmp_path / "kafka", preferred_port=0)
    first = broker._node()
    (tmp_path / "kafka" / "logs").mkdir()
    (tmp_path / "kafka" / "logs" / "meta.properties").write_text("formatted\n")
    again = broker._node()
    assert again["cluster_id"] == first["cluster_id"]
    assert again["controller_port"] == first["controller_port"]
    assert len(str(first["cluster_id"])) == 22 and new_cluster_id() != first["cluster_id"]


def test_docker_compose_runs_the_same_kafka_version() -> None:
    compose = (POM.parents[3] / "docker-compose.yml").read_text()
    assert f"image: apache/kafka:{KAFKA_VERSION}" in compose


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage tool would read it as an option and refuse to format (seen in a test run)."""
    import uuid

    drawn = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x10" + bytes(15))])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(drawn))
    cluster_id = new_cluster_id()
    assert cluster_id == "EAAAAAAAAAAAAAAAAAAAAA"


def test_cluster_nodes_share_a_cluster_id_and_the_voters_and_replicate_by_three(
    tmp_path: Path,
) -> None:
    from app.worker.kafka.kafka_cluster import KafkaCluster

    cluster = KafkaCluster(tmp_path / "cluster")
    nodes = list(cluster.nodes.values())
    configs = [n.server_properties(str(n._node()["cluster_id"])) for n in nodes]
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert len({c["controller.quorum.voters"] for c in configs}) == 1
    assert configs[0]["controller.quorum.voters"].count("@") == 3
    assert len({str(n._node()["cluster_id"]) for n in nodes}) == 1
    assert all(c["default.replication.factor"] == "3" for c in configs)
    assert all(c["min.insync.replicas"] == "2" for c in configs)
    assert len({c["log.dirs"] for c in configs}) == 3
