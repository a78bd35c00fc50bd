"""The engine's topics, created explicitly with their partition counts before the worker starts.

Explicit creation matters: the embedded broker auto-creates an unknown topic with 4 partitions, and
the three telemetry topics, the score-request topic and the state changelog must all have the same
partition count so that one entity's data lands on one worker.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from app.worker.settings import Settings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


class TopicError(RuntimeError):
    """A topic could not be created, or exists with an incompatible layout."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    co_partitioned: bool = False  # must have exactly `partitions` partitions


# The Faust tables, keyed within the telemetry partitions; their changelogs are created here too,
# because every worker reads the model_stats changelog from its start (see app/worker/stats.py).
TABLES = ("entity_state", "model_stats", "deliveries")


def changelog_topic(settings: Settings, table: str) -> str:
    """The changelog topic Faust uses for ``table``."""
    return f"{settings.app_id}-{table}-changelog"


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the engine reads or writes, with its layout."""
    n = settings.partitions
    return [
        *(
            TopicSpec(changelog_topic(settings, table), n, {"cleanup.policy": "compact"}, True)
            for table in TABLES
        ),
        *(TopicSpec(name, n, co_partitioned=True) for name in settings.telemetry_topics),
        TopicSpec(settings.score_requests_topic, n, co_partitioned=True),
        # Keyed by entity; the deliveries table is written from its events, so co-partitioned.
        TopicSpec(settings.alerts_topic, n, co_partitioned=True),
        TopicSpec(settings.config_topic, 1, {"cleanup.policy": "compact"}),
        TopicSpec(settings.silences_topic, 1, {"cleanup.policy": "compact"}),
        TopicSpec(settings.dlq_topic, 1),
        # One partition keeps changes in order; rare and small, so kept forever.
        TopicSpec(settings.audit_topic, 1, {"retention.ms": "-1"}),
    ]


async def _described_with_leaders(
    admin: AIOKafkaAdminClient, names: list[str], deadline: float
) -> dict[str, int]:
    """Name -> partition count, once every partition of every topic has a leader.

    Apache Kafka lists a topic it has just created with no partitions (or leaderless ones) for a
    moment; a count read then would be 0 and a reader of such a partition would fail. During a
    broker's failover a partition is leaderless for a moment too.
    """
    loop = asyncio.get_running_loop()
    while True:
        try:
            described = await admin.describe_topics(names)
        except (KafkaError, TimeoutError) as exc:
            # Asked a node that just died (its metadata still lists it): ask again.
            if loop.time() > deadline:
                raise TopicError(f"could not describe the engine's topics: {exc!r}") from exc
            await asyncio.sleep(0.5)
            continue
        counts = {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0}
        ready = all(
            counts.get(d["topic"]) and all(p["leader"] >= 0 for p in d["partitions"])
            for d in described
        )
        if ready and len(counts) == len(names):
            return counts
        if loop.time() > deadline:
            return counts  # the caller names the topic whose layout is wrong
        await asyncio.sleep(0.1)


async def ensure_topics(settings: Settings, *, timeout: float = 60.0) -> dict[str, int]:
    """Create missing topics; check co-partitioned ones. Returns name -> partition count."""
    specs = topic_specs(settings)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=10_000
    )
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await admin.start()
            break
        except KafkaError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise TopicError(
                    f"cannot reach the broker at {settings.kafka_bootstrap_servers}: {exc}"
                ) from exc
            await asyncio.sleep(0.5)
    try:
        new_topics = [
            NewTopic(
                s.name,
                s.partitions,
                settings.replication_factor,
                topic_configs=dict(s.config) or None,
            )
            for s in specs
        ]
        while True:
            try:
                response = await admin.create_topics(new_topics)
                break
            except (KafkaError, TimeoutError) as exc:
                # A loaded cluster may answer after the request timeout (seen with three nodes
                # at load ~9); asking again is safe: a topic created meanwhile "already exists".
                if asyncio.get_running_loop().time() > deadline:
                    raise TopicError(f"could not create the engine's topics: {exc!r}") from exc
                log.warning("creating topics: %r; retrying", exc)
        for name, code, message in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise TopicError(f"could not create topic {name!r}: {message} (code {code})")
            if code == 0:
                log.info("created topic %s", name)
        counts = await _described_with_leaders(admin, [s.name for s in specs], deadline)
    finally:
        await admin.close()
    for spec in specs:
        if spec.co_partitioned and counts.get(spec.name) != spec.partitions:
            raise TopicError(
                f"topic {spec.name!r} has {counts.get(spec.name)} partitions but the engine is "
                f"configured for {spec.partitions} (ANOMALY_PARTITIONS); telemetry topics must be "
                "co-partitioned: recreate the topic or change the setting"
            )
    return counts
