"""The telemetry the bench sends: the README's configuration and messages of 1 to 1000 points.

Values are normal around the README baseline (feature 0: 100 ± 5, feature 1: 5 ± 1), drawn from
a seeded generator so every run sends the same bytes; points of one entity are 10 s apart.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from api.schemas.config import README_CONFIG_EXAMPLE

MODEL_ID = "metrics-v1"
START_TS = 1_795_766_400.0  # 2026-11-27T08:00:00Z, the README's first point
STEP_S = 10.0

# The README walk-through's configuration, verbatim: zscore with a known baseline, adaptive threshold.
README_CONFIG: dict[str, Any] = README_CONFIG_EXAMPLE["configs"][0]


def normal_values(rng: random.Random) -> list[float]:
    """One point's two values, rounded as a metrics agent would send them."""
    return [round(rng.gauss(100.0, 5.0), 3), round(rng.gauss(5.0, 1.0), 3)]


def point_message(entity: str, ts: float, values: list[float], model_id: str = MODEL_ID) -> bytes:
    """A single-point message.

    Examples
    --------
    >>> point_message("host-1", 0.0, [101.0, 5.0])
    b'{"model_id":"metrics-v1","entity":"host-1","ts":0.0,"values":[101.0,5.0]}'
    """
    return orjson.dumps({"model_id": model_id, "entity": entity, "ts": ts, "values": values})


def columnar_message(
    entity: str, ts: list[float], columns: list[list[float]], model_id: str = MODEL_ID
) -> bytes:
    """A columnar batch: one list of timestamps, one list of values per feature.

    Examples
    --------
    >>> columnar_message("host-1", [0.0, 10.0], [[101.0, 99.0], [5.0, 5.2]])
    b'{"model_id":"metrics-v1","entity":"host-1","ts":[0.0,10.0],"values":[[101.0,99.0],[5.0,5.2]]}'
    """
    return orjson.dumps({"model_id": model_id, "entity": entity, "ts": ts, "values": columns})


def messages(count: int, batch: int, entities: int, seed: int = 1) -> Iterator[tuple[bytes, bytes]]:
    """``count`` (key, value) messages of ``batch`` points each, round-robin over ``entities``.

    ``batch`` 1 gives single-point messages, more gives columnar batches of two features; the
    key is the entity, so Kafka's default partitioner puts each on its entity's partition.

    Examples
    --------
    >>> sent = list(messages(3, 2, entities=2))
    >>> [key for key, _ in sent]
    [b'bench-0000', b'bench-0001', b'bench-0000']
    >>> [count_points(orjson.loads(value)) for _, value in sent]
    [2, 2, 2]
    >>> orjson.loads(sent[2][1])["ts"]
    [1795766420.0, 1795766430.0]
    >>> orjson.loads(next(messages(1, 1, 1))[1])["values"]
    [106.441, 6.449]
    """
    if count < 0 or batch < 1 or entities < 1:
        raise ValueError("count >= 0, batch >= 1 and entities >= 1 are required")
    rng = random.Random(seed)
    sent_points = [0] * entities
    for i in range(count):
        e = i % entities
        entity = f"bench-{e:04d}"
        first = START_TS + STEP_S * sent_points[e]
        sent_points[e] += batch
        if batch == 1:
            yield entity.encode(), point_message(entity, first, normal_values(rng))
            continue
        ts = [first + STEP_S * k for k in range(batch)]
        points = [normal_values(rng) for _ in range(batch)]
        columns = [[p[j] for p in points] for j in range(2)]
        yield entity.encode(), columnar_message(entity, ts, columns)


def count_points(payload: Mapping[str, Any]) -> int:
    """The number of points in a decoded metrics message of any of the three forms.

    Examples
    --------
    >>> count_points({"ts": 1.0, "values": [1, 2]})
    1
    >>> count_points({"ts": [1.0, 2.0, 3.0], "values": [[1, 2, 3]]})
    3
    >>> count_points({"points": [{"ts": 1, "values": [1]}, {"ts": 2, "values": [2]}]})
    2
    """
    if "points" in payload:
        return len(payload["points"])
    ts = payload.get("ts")
    return len(ts) if isinstance(ts, list) else 1


# A key scored over REST first learns this many points (a request that is not a dry run): the
# README's adaptive threshold needs a history, and without one it stays at its floor (1.5σ),
# where a quarter of normal points are flagged.
HISTORY_POINTS = 1000


def score_records(size: int, seed: int = 2, start: float = START_TS) -> list[dict[str, Any]]:
    """``size`` REST records (``{"ts", "values"}``), 10 s apart from ``start``, normal values.

    Examples
    --------
    >>> score_records(2)
    [{'ts': 1795766400.0, 'values': [111.691, 4.337]}, {'ts': 1795766410.0, 'values': [101.974, 5.147]}]
    """
    rng = random.Random(seed)
    return [{"ts": start + STEP_S * i, "values": normal_values(rng)} for i in range(size)]


def history_records(size: int = HISTORY_POINTS) -> list[dict[str, Any]]:
    """The ``size`` normal records a key learns before the bench's dry runs: the ones just
    before :func:`score_records`' first, from another seed.

    Examples
    --------
    >>> [r["ts"] for r in history_records(2)]
    [1795766380.0, 1795766390.0]
    """
    return score_records(size, seed=3, start=START_TS - STEP_S * size)
