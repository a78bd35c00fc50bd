"""Measurement 4: ``POST /anomaly/score`` latency for 1k, 10k and 100k points, dry run.

Client side: the round trip of a pre-encoded request body (httpx, keep-alive), response read.
Server side: the ``Server-Timing`` header's ``total`` (or its largest) duration when the API
sends one; else the scoring path timed in this process, the way the API and the owning worker
run it: the body parsed and validated as ``ScoreIn`` (plain records become columns), turned into
a batch, and ``score_batch`` with ``learn=False`` (dry run) on a fresh key. That leaves out
HTTP, the ``agent.ask`` hop over Kafka and building the response, so it is a lower bound; the
row says which was used.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from bench.cluster import BenchError, Worker
from bench.profile import Profile, progress
from bench.summary import Summary
from bench.table import Row, Target
from bench.workload import MODEL_ID, README_CONFIG, history_records, score_records

TARGETS_MS = {10_000: 20.0, 100_000: 200.0}  # issue 16


def server_timing_ms(header: str | None) -> float | None:
    """The server's own duration from a ``Server-Timing`` header, in ms.

    The ``total`` metric if there is one (also ``app``), else the largest ``dur``.

    Examples
    --------
    >>> server_timing_ms('score;dur=8.5, total;dur=12.25;desc="all"')
    12.25
    >>> server_timing_ms("decode;dur=2, score;dur=7.5")
    7.5
    >>> server_timing_ms(None) is None, server_timing_ms("cache;desc=hit") is None
    (True, True)
    """
    if not header:
        return None
    durations: dict[str, float] = {}
    for metric in header.split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "dur":
                try:
                    durations[name.lower()] = float(value.strip().strip('"'))
                except ValueError:
                    continue
    for name in ("total", "app"):
        if name in durations:
            return durations[name]
    return max(durations.values()) if durations else None


def request_body(size: int, entity: str) -> bytes:
    """A dry-run request for ``size`` records of ``entity``.

    Examples
    --------
    >>> body = orjson.loads(request_body(2, "host-1"))
    >>> body["dry_run"], len(body["records"]), sorted(body["records"][0])
    (True, 2, ['ts', 'values'])
    """
    return orjson.dumps(
        {"model_id": MODEL_ID, "entity": entity, "dry_run": True, "records": score_records(size)}
    )


def columns_body(size: int, entity: str) -> bytes:
    """The request of :func:`request_body` with its records as columns, a list per feature,
    and its answer as columns too.

    Examples
    --------
    >>> from api.schemas.score import ScoreIn
    >>> as_columns = ScoreIn.model_validate_json(columns_body(3, "host-1"))
    >>> list(as_columns.records) == list(ScoreIn.model_validate_json(request_body(3, "h")).records)
    True
    """
    records = score_records(size)
    columns = {
        "ts": [r["ts"] for r in records],
        "values": [[r["values"][j] for r in records] for j in range(len(records[0]["values"]))],
    }
    return orjson.dumps(
        {
            "model_id": MODEL_ID,
            "entity": entity,
            "dry_run": True,
            "records": columns,
            "results_as": "columns",
        }
    )


def history_body(entity: str) -> bytes:
    """The request that teaches ``entity`` its history before the timed dry runs.

    Examples
    --------
    >>> body = orjson.loads(history_body("host-1"))
    >>> body["dry_run"], len(body["records"])
    (False, 1000)
    """
    return orjson.dumps(
        {"model_id": MODEL_ID, "entity": entity, "dry_run": False, "records": history_records()}
    )


def learned_state(config: Any, entity: str) -> dict[str, Any] | None:
    """The state of ``entity``'s key after learning :func:`history_records`, in-process."""
    from incidents.scoring import score_batch

    records = history_records()
    ts = np.array([r["ts"] for r in records], dtype=float)
    values = np.array([r["values"] for r in records], dtype=float)
    return score_batch(config, entity, None, ts, values, source="rest").state


class InProcessScorer:
    """The worker's scoring path for a dry run, called directly."""

    def __init__(self) -> None:
        from api.schemas.config import ModelConfigIn
        from incidents.config import ModelConfig

        self.config = ModelConfig.from_dict(
            ModelConfigIn.model_validate(README_CONFIG).model_dump()
        )
        self.state = learned_state(self.config, "in-process")

    def __call__(self, body: bytes) -> float:
        """Seconds to validate ``body`` and score it, as a dry run on a key with history."""
        from api.nogc import paused_gc
        from api.records import RecordColumns, columns_batch, compact_records
        from api.routing import parse_json
        from api.schemas.score import ScoreIn
        from app.telemetry.messages import records_to_batch
        from incidents.scoring import score_batch

        started = time.perf_counter()
        with paused_gc():  # as the route parses
            parsed = compact_records(parse_json(body))
        request = ScoreIn.model_validate(parsed)  # plain records become columns
        with paused_gc():  # as the engine decodes and scores
            if isinstance(request.records, RecordColumns):
                batch = columns_batch(request.records, self.config, request.entity)
            else:
                records = [r.model_dump() for r in request.records]
                batch = records_to_batch(records, self.config, request.entity)
            ts, values = np.asarray(batch.ts, dtype=float), np.asarray(batch.values, dtype=float)
            score_batch(
                self.config, request.entity, self.state, ts, values, learn=False, source="rest"
            )
        return time.perf_counter() - started


def _post(worker: Worker, body: bytes) -> tuple[float, Mapping[str, str]]:
    started = time.perf_counter()
    response = worker.http.post(
        "/anomaly/score", content=body, headers={"content-type": "application/json"}
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(
            f"POST /anomaly/score answered {response.status_code}: {response.text[:300]}"
        )
    return elapsed, response.headers


def worker_error(log_tail: str) -> str | None:
    """The message of the last error-level line of a worker's JSON log, if any.

    Examples
    --------
    >>> worker_error('{"level":"info","message":"ok"}\\n{"level":"error","message":"Crashed"}')
    'Crashed'
    >>> worker_error('{"level":"info","message":"ok"}') is None
    True
    """
    found = None
    for line in log_tail.splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("level") == "error":
            found = str(record.get("message", ""))
    return found


def measure(worker: Worker, profile: Profile, notes: list[str] | None = None) -> list[Row]:
    rows: list[Row] = []
    scorer = InProcessScorer()
    warm = False
    forms = (("", request_body), (" as columns", columns_body))
    for size, (form, make_body) in itertools.product(profile.score_sizes, forms):
        runs = profile.score_runs.get(size, 3)
        body = make_body(size, f"score-{size}")
        client: list[float] = []
        server: list[float] = []
        how = "Server-Timing header"
        try:
            if not warm:
                _post(worker, request_body(100, "score-warm-up"))  # connection, first imports
                warm = True
            if not form:
                _post(worker, history_body(f"score-{size}"))  # the key learns its history
            started = time.monotonic()
            for run in range(runs):
                if run >= 1 and time.monotonic() - started > profile.score_budget_s:
                    break  # enough of a slow size: the runs so far tell
                elapsed, headers = _post(worker, body)
                client.append(1000 * elapsed)
                timed = server_timing_ms(headers.get("server-timing"))
                if timed is None:
                    how = "in-process: validation + decode + score_batch dry run"
                    timed = 1000 * scorer(body)
                server.append(timed)
        except BenchError as exc:
            progress(f"score {size:,} points{form}: {exc}")
            cause = worker_error(worker.log_tail(400))
            if cause and notes is not None:
                notes.append(
                    f"POST /anomaly/score with {size:,} points{form} failed ({exc}); the worker's log "
                    f"says: {cause[:400]}"
                )
            note = f"error: {str(exc).splitlines()[0][:120]}"
            rows += [
                Row(
                    "4",
                    f"POST /anomaly/score {size:,} points{form}, client round trip",
                    "ms",
                    note=note,
                ),
                Row(
                    "4", f"POST /anomaly/score {size:,} points{form}, server side", "ms", note=note
                ),
            ]
            continue
        progress(
            f"score {size:,} points{form} ({len(body) / 1e6:.1f} MB body), {len(client)} runs: client "
            f"median {Summary.of(client).median:,.1f} ms, server median "
            f"{Summary.of(server).median:,.1f} ms ({how})"
        )
        target = TARGETS_MS.get(size)
        rows += [
            Row(
                "4",
                f"POST /anomaly/score {size:,} points{form}, client round trip",
                "ms",
                Summary.of(client),
            ),
            Row(
                "4",
                f"POST /anomaly/score {size:,} points{form}, server side ({how})",
                "ms",
                Summary.of(server),
                Target("<=", target) if target else None,
            ),
        ]
    return rows
