"""The Apache Kafka the embedded broker runs: Java, and the jars resolved once from Maven Central.

The jars are those of ``app/worker/kafka/pom.xml`` (``org.apache.kafka:kafka_2.13`` and its runtime
dependencies), copied by ``mvn dependency:copy-dependencies`` into a cache outside the clone,
``~/.cache/anomaly-engine/kafka-<version>/libs`` (``ANOMALY_KAFKA_CACHE`` moves the parent), so
every clone, worktree and CI run on a machine shares one download. A file lock keeps two processes
from resolving at once, and a ``resolved.ok`` marker written last says the copy is complete.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

from app.worker.kafka.broker import BrokerError

KAFKA_VERSION = "4.1.1"
MIN_JAVA = 17  # Apache Kafka 4.x brokers need Java 17
POM = Path(__file__).with_name("pom.xml")
MARKER = "resolved.ok"


class KafkaRuntimeError(BrokerError):
    """Java or Maven is missing, or the Kafka jars could not be resolved."""


def cache_dir() -> Path:
    """Where this Kafka version's jars live (shared by every clone on the machine)."""
    base = os.environ.get("ANOMALY_KAFKA_CACHE") or Path.home() / ".cache" / "anomaly-engine"
    return Path(base) / f"kafka-{KAFKA_VERSION}"


def find_java() -> str | None:
    """``$JAVA_HOME/bin/java`` when set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def parse_java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output.

    >>> parse_java_major('openjdk version "17.0.15" 2025-04-15')
    17
    >>> parse_java_major('java version "1.8.0_402"')
    8
    >>> parse_java_major('no version here') is None
    True
    """
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not found:
        return None
    major = int(found.group(1))
    if major == 1 and found.group(2):  # 1.8 style
        major = int(found.group(2))
    return major


def java_major(java: str | None = None) -> int | None:
    """The major version of ``java`` (default: :func:`find_java`), None when there is no Java."""
    java = java or find_java()
    if not java:
        return None
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_major(done.stderr + done.stdout)


def require_java() -> str:
    """The java executable, or a :class:`KafkaRuntimeError` saying what is missing."""
    java = find_java()
    if not java:
        raise KafkaRuntimeError(
            f"Apache Kafka needs Java {MIN_JAVA} or newer and no 'java' was found "
            "(set JAVA_HOME or put java on PATH; ANOMALY_BROKER=tansu runs the Tansu broker instead)"
        )
    major = java_major(java)
    if major is None or major < MIN_JAVA:
        raise KafkaRuntimeError(
            f"Apache Kafka needs Java {MIN_JAVA} or newer; {java} is Java {major or 'unknown'} "
            "(ANOMALY_BROKER=tansu runs the Tansu broker instead)"
        )
    return java


def resolve_jars(cache: Path | None = None) -> Path:
    """The folder of Kafka's jars, resolved from Maven Central on first use."""
    cache = cache or cache_dir()
    libs = cache / "libs"
    if (cache / MARKER).exists():
        return libs
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaRuntimeError(
            f"Apache Kafka {KAFKA_VERSION} is not in {cache} yet and fetching it needs Maven "
            "('mvn' is not on PATH; install maven, or ANOMALY_BROKER=tansu runs the Tansu broker)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be resolving: wait for it
        if (cache / MARKER).exists():
            return libs
        partial = cache / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not any(partial.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise KafkaRuntimeError(
                f"could not fetch Apache Kafka {KAFKA_VERSION} from Maven Central "
                f"(mvn exited with {done.returncode}):\n{tail}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
        (cache / MARKER).write_text(f"{KAFKA_VERSION}\n")
    return libs
