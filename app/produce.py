"""Send JSON-lines telemetry to a topic, keyed by entity (what `anomaly-engine produce` runs)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer


class ProduceError(RuntimeError):
    """Input that cannot be sent; the message says which line and why."""


def parse_lines(lines: Iterable[str], source: str = "stdin") -> list[tuple[bytes, bytes]]:
    """(key, value) per non-blank JSON line; the key is the message's ``entity``.

    Examples
    --------
    >>> parse_lines(['{"model_id": "m", "entity": "host-1", "ts": 0, "values": [1]}', ""])
    [(b'host-1', b'{"model_id":"m","entity":"host-1","ts":0,"values":[1]}')]
    >>> parse_lines(['{"entity": 5}'])
    Traceback (most recent call last):
    ...
    app.produce.ProduceError: stdin line 1: "entity" must be a non-empty string
    """
    messages = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document: Any = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ProduceError(f"{source} line {number}: not valid JSON ({exc})") from None
        entity = document.get("entity") if isinstance(document, dict) else None
        if not isinstance(entity, str) or not entity:
            raise ProduceError(f'{source} line {number}: "entity" must be a non-empty string')
        messages.append((entity.encode(), orjson.dumps(document)))
    return messages


def discover_bootstrap(explicit: str, api_url: str) -> str:
    """The broker to use: the configured one, else the one the local engine reports."""
    if explicit:
        return explicit
    try:
        health = httpx.get(f"{api_url}/health", timeout=5).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProduceError(
            f"KAFKA_BOOTSTRAP_SERVERS is not set and no engine answers at {api_url} "
            f"to say which broker it uses ({exc}); start one with `make run`"
        ) from None
    return str(health["broker"])


async def send(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        pending = [await producer.send(topic, key=key, value=value) for key, value in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
