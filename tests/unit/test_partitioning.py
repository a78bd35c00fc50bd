"""partition_for must put an entity where Kafka's default partitioner (murmur2) puts its key.

Producers key telemetry by entity with their client's default partitioner; if the engine computed
another partition it would re-send every message to "its" partition and split the entity's state.
"""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from app.worker.engine import partition_for

# Signed 32-bit murmur2 hashes from Apache Kafka's UtilsTest.testMurmur2 (Java client), the
# reference every client's default partitioner follows: partition = toPositive(hash) % n.
JAVA_MURMUR2 = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
    "1": -1993445489,
    "12": 126087238,
    "123": -267702483,
    "1234": -1614185708,
    "12345": -1188365604,
}


@pytest.mark.parametrize("key", sorted(JAVA_MURMUR2))
@pytest.mark.parametrize("partitions", [1, 3, 4, 12, 256])
def test_matches_the_java_client(key: str, partitions: int) -> None:
    java_to_positive = JAVA_MURMUR2[key] & 0x7FFFFFFF
    assert partition_for(key, partitions) == java_to_positive % partitions


def test_fixed_values() -> None:
    # A few spelled out, so a change of partitioner shows up as a readable diff.
    assert [partition_for(k, 4) for k in ("21", "foobar", "abc", "12345")] == [0, 2, 3, 0]
    assert [partition_for(k, 10) for k in ("21", "foobar", "abc", "12345")] == [0, 6, 7, 4]


@given(
    entity=st.text(min_size=1, max_size=64),
    partitions=st.integers(min_value=1, max_value=256),
)
def test_matches_aiokafkas_default_partitioner(entity: str, partitions: int) -> None:
    all_partitions = list(range(partitions))
    expected = DefaultPartitioner()(entity.encode(), all_partitions, all_partitions)
    assert partition_for(entity, partitions) == expected


def test_result_is_a_valid_partition_and_spreads_entities() -> None:
    hosts = [f"host-{i}" for i in range(400)]
    used = [partition_for(h, 8) for h in hosts]
    assert all(0 <= p < 8 for p in used)
    assert set(used) == set(range(8))
    assert max(used.count(p) for p in range(8)) < 2 * 400 / 8
