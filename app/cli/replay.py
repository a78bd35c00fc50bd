"""Replay telemetry files into a topic, keyed by entity (what `anomaly-engine produce` runs).

Two inputs:

- JSON lines: one message per line, sent as it is (any of the telemetry forms of the README);
  ``model_id`` and ``entity`` fill in a line's fields when it has none.
- CSV with a header: a ``timestamp`` (or ``ts``) column, ISO-8601 or epoch seconds; one or more
  value columns, in feature order; optionally an ``entity`` column (else ``entity`` is required)
  and a ``label`` column (0/1, empty for none). An empty value cell is a gap. Rows become
  single-point messages, or columnar batches of ``batch`` points of one entity.

Everything is read and checked before the first message is sent, so a bad line sends nothing.
:func:`send_paced` sends at a rate in points or messages per second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from app.csv_table import TIMESTAMP_COLUMNS, CsvTable, number_cell
from incidents.points import TelemetryError, parse_ts


class ProduceError(RuntimeError):
    """Input that cannot be sent, or a broker that cannot take it; the message says why."""


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    points: int  # points (or log/behaviour events) the message carries, for rates and progress


def message_points(document: dict[str, Any]) -> int:
    """Points a telemetry message carries: its ``points``, ``events`` or columnar ``ts``, else 1.

    >>> message_points({"ts": [1, 2, 3], "values": [[1, 2, 3]]}), message_points({"ts": 1})
    (3, 1)
    """
    for name in ("points", "events", "ts"):
        items = document.get(name)
        if isinstance(items, list):
            return len(items)
    return 1


def parse_jsonl(
    lines: Iterable[str],
    source: str = "stdin",
    *,
    model_id: str | None = None,
    entity: str | None = None,
) -> list[Message]:
    """One message per non-blank JSON line, keyed by its ``entity``.

    >>> [m.points for m in parse_jsonl(['{"entity": "h", "ts": [1, 2], "values": [[1, 2]]}'])]
    [2]
    >>> parse_jsonl(['{"ts": 1, "values": [1]}'], model_id="m", entity="h")[0].value
    b'{"ts":1,"values":[1],"model_id":"m","entity":"h"}'
    """
    messages = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document: Any = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ProduceError(f"{source} line {number}: not valid JSON ({exc})") from None
        if not isinstance(document, dict):
            raise ProduceError(f"{source} line {number}: a message must be a JSON object")
        if model_id is not None:
            document.setdefault("model_id", model_id)
        if entity is not None:
            document.setdefault("entity", entity)
        key = document.get("entity")
        if not isinstance(key, str) or not key:
            raise ProduceError(f'{source} line {number}: "entity" must be a non-empty string')
        messages.append(Message(key.encode(), orjson.dumps(document), message_points(document)))
    return messages


def parse_lines(lines: Iterable[str], source: str = "stdin") -> list[tuple[bytes, bytes]]:
    """(key, value) per non-blank JSON line; the key is the message's ``entity``.

    Examples
    --------
    >>> parse_lines(['{"model_id": "m", "entity": "host-1", "ts": 0, "values": [1]}', ""])
    [(b'host-1', b'{"model_id":"m","entity":"host-1","ts":0,"values":[1]}')]
    >>> parse_lines(['{"entity": 5}'])
    Traceback (most recent call last):
    ...
    app.cli.replay.ProduceError: stdin line 1: "entity" must be a non-empty string
    """
    return [(m.key, m.value) for m in parse_jsonl(lines, source)]


def _number(text: str, where: str) -> float | None:
    try:
        return number_cell(text)
    except ValueError:
        raise ProduceError(f"{where}: {text.strip()!r} is not a number") from None


def _label(text: str, where: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if text not in ("0", "1"):
        raise ProduceError(f"{where}: a label is 0, 1 or empty, got {text!r}")
    return int(text)


def parse_csv(
    lines: Iterable[str],
    source: str,
    *,
    model_id: str,
    entity: str | None = None,
    batch: int = 1,
) -> list[Message]:
    """Messages from CSV rows: single points when ``batch`` is 1, else columnar batches of up to
    ``batch`` points per entity (in row order; each entity's last batch may be shorter).

    Examples
    --------
    >>> rows = ["timestamp,cpu,latency", "2026-11-27 08:00:00,1,100", "1795766410,2,"]
    >>> [m.value for m in parse_csv(rows, "x.csv", model_id="m", entity="h")]
    [b'{"model_id":"m","entity":"h","ts":1795766400.0,"values":[1.0,100.0]}', b'{"model_id":"m","entity":"h","ts":1795766410.0,"values":[2.0,null]}']
    >>> [m.value for m in parse_csv(rows, "x.csv", model_id="m", entity="h", batch=5)]
    [b'{"model_id":"m","entity":"h","ts":[1795766400.0,1795766410.0],"values":[[1.0,2.0],[100.0,null]]}']
    >>> parse_csv(["timestamp,value", "yesterday,1"], "x.csv", model_id="m", entity="h")
    Traceback (most recent call last):
    ...
    app.cli.replay.ProduceError: x.csv line 2: timestamp 'yesterday' is neither ISO-8601 nor epoch seconds
    """
    if batch < 1:
        raise ProduceError(f"--batch must be at least 1, got {batch}")
    table = CsvTable(lines)
    header = table.header
    value_columns: list[int] = []
    pending: dict[str, list[tuple[float, list[float | None], int | None]]] = {}
    messages: list[Message] = []
    has_labels = False

    def flush(key: str) -> None:
        rows = pending.pop(key, [])
        if not rows:
            return
        document: dict[str, Any] = {"model_id": model_id, "entity": key}
        if batch == 1:
            [(ts, values, label)] = rows
            document.update(ts=ts, values=values)
            if has_labels and label is not None:
                document["label"] = label
        else:
            document["ts"] = [row[0] for row in rows]
            document["values"] = [[row[1][i] for row in rows] for i in range(len(value_columns))]
            if has_labels and any(row[2] is not None for row in rows):
                document["labels"] = [row[2] for row in rows]
        messages.append(Message(key.encode(), orjson.dumps(document), len(rows)))

    if header is None:
        raise ProduceError(f"{source}: empty, expected a header such as timestamp,value")
    ts_col = table.column(*TIMESTAMP_COLUMNS)
    if ts_col is None:
        raise ProduceError(
            f"{source} line {table.header_line}: the header must name a timestamp column "
            f"(timestamp or ts), got {', '.join(header)}"
        )
    columns = {"timestamp": ts_col}
    for name in ("entity", "label"):
        found = table.column(name)
        if found is not None:
            columns[name] = found
    value_columns = [i for i in range(len(header)) if i not in columns.values()]
    if not value_columns:
        raise ProduceError(f"{source} line {table.header_line}: the header names no value column")
    if entity is None and "entity" not in columns:
        raise ProduceError(f"{source}: give --entity, or an entity column in the CSV")
    has_labels = "label" in columns
    for number, row in table.rows():
        where = f"{source} line {number}"
        if len(row) != len(header):
            raise ProduceError(f"{where}: {len(row)} cells for the {len(header)} columns")
        try:
            ts = parse_ts(row[columns["timestamp"]].strip(), "timestamp")
        except TelemetryError as exc:
            raise ProduceError(f"{where}: {exc}") from None
        values = [_number(row[i], f"{where}, column {header[i]}") for i in value_columns]
        label = _label(row[columns["label"]], f"{where}, column label") if has_labels else None
        key = row[columns["entity"]].strip() if "entity" in columns else ""
        key = key or entity or ""
        if not key:
            raise ProduceError(f"{where}: the entity cell is empty and no --entity is given")
        rows = pending.setdefault(key, [])
        rows.append((ts, values, label))
        if len(rows) >= batch:
            flush(key)
    for key in list(pending):
        flush(key)
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


def _acked(callback: Callable[[Message], None], message: Message, future: Any) -> None:
    if not future.cancelled() and future.exception() is None:
        callback(message)


async def send_paced(
    bootstrap: str,
    topic: str,
    messages: list[Message],
    *,
    rate: float = 0.0,
    per: Literal["points", "messages"] = "points",
    on_acked: Callable[[Message], None] | None = None,
    on_connected: Callable[[], None] | None = None,
    max_request_size: int = 16 * 1024 * 1024,
) -> None:
    """Send ``messages`` to ``topic``, at most ``rate`` points (or messages) per second when
    ``rate`` is positive, as fast as the broker takes them otherwise. ``on_connected`` is called
    once the broker answered and the topic exists, ``on_acked`` as the broker acknowledges each
    message. Raises ProduceError when the topic does not exist or
    the broker fails."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_request_size=max_request_size
    )
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise ProduceError(f"cannot reach the broker at {bootstrap}: {exc}") from None
    try:
        metadata = await producer.client.fetch_all_metadata()
        if topic not in metadata.topics():
            raise ProduceError(
                f"topic {topic!r} does not exist on {bootstrap}; the engine creates its topics "
                "when it starts (names from ANOMALY_*_TOPIC), or pass --topic"
            )
        if on_connected is not None:
            on_connected()
        started = time.monotonic()
        sent_units = 0.0
        pending = []
        for message in messages:
            if rate > 0:
                delay = started + sent_units / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_units += message.points if per == "points" else 1
            future = await producer.send(topic, key=message.key, value=message.value)
            if on_acked is not None:
                future.add_done_callback(partial(_acked, on_acked, message))
            pending.append(future)
        await asyncio.gather(*pending)
    except KafkaError as exc:
        raise ProduceError(f"the broker at {bootstrap} did not take the messages: {exc}") from None
    finally:
        await producer.stop()
