"""The worker creates its topics with explicit layouts, and refuses incompatible ones."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from app.worker.settings import get_settings
from app.worker.topics import TopicError, ensure_topics
from tests.integration.harness import EngineProcess, engine_env

ROOT = Path(__file__).resolve().parents[2]


async def describe(bootstrap: str, topics: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
        counts = {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0}
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topics[-1])]
        )
        entries = configs[0].resources[0][4]
        return counts, {e[0]: e[1] for e in entries}
    finally:
        await admin.close()


def test_worker_creates_every_topic_with_its_layout(
    engine: EngineProcess, bootstrap: str, names: dict[str, str]
) -> None:
    telemetry = [names["metrics_topic"], names["logs_topic"], names["behavior_topic"]]
    others = [names["alerts_topic"], names["dlq_topic"], names["config_topic"]]
    counts, config_topic_settings = asyncio.run(describe(bootstrap, telemetry + others))
    assert {t: counts.get(t) for t in telemetry} == dict.fromkeys(telemetry, 4)
    assert counts[names["alerts_topic"]] == 4
    assert counts[names["config_topic"]] == 1
    assert config_topic_settings.get("cleanup.policy") == "compact"
    assert engine.health()["embedded_broker"] is False  # KAFKA_BOOTSTRAP_SERVERS was given


def test_a_telemetry_topic_with_another_partition_count_is_refused(
    bootstrap: str, names: dict[str, str], tmp_path: Path
) -> None:
    async def precreate() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(names["logs_topic"], 2, 1)])
        finally:
            await admin.close()

    asyncio.run(precreate())
    settings = get_settings(kafka_bootstrap_servers=bootstrap, **names)
    with pytest.raises(TopicError, match="has 2 partitions but the engine is configured for 4"):
        asyncio.run(ensure_topics(settings))

    # The worker says so in one sentence and exits, instead of running on split partitions.
    env = {**engine_env(bootstrap, names), "ANOMALY_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "app", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "error: topic" in done.stderr and "has 2 partitions" in done.stderr
    assert "Traceback" not in done.stderr
