"""Where a `POST /anomaly/score` dry run spends its time, in-process, section by section.

The bench's request body (README configuration, a key that learned the bench's history, epoch
times, two values) goes through the same steps as in a worker that owns the key: the body parsed
(``parse_json``, its records turned into columns by ``compact_records``) and validated (``ScoreIn``), the engine's request built (``Engine._score_request``), ``score_batch``
as a dry run, the worker's reply columns, and the answer encoded (``score_reply``). HTTP and
the event loop are left out. Prints the median milliseconds per section and in all:

    python -m bench.score_path --sizes 1000,10000,100000 --runs 5

``--cpu`` times the sections in CPU time of the process (``time.process_time``), which other
jobs on a shared machine disturb less than the wall clock.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from api.engine import ScoreCommand
from api.nogc import paused_gc
from api.records import compact_records
from api.routing import parse_json
from api.schemas.config import ModelConfigIn
from api.schemas.score import ScoreIn, ScoreOut
from api.score_reply import score_reply
from app.worker.engine import Engine
from bench.score_api import learned_state, request_body
from bench.workload import README_CONFIG
from incidents.config import ModelConfig
from incidents.scoring import score_batch

SECTIONS = ("parse", "validate", "request", "score_batch", "columns", "answer")


def one_request(
    body: bytes,
    config: ModelConfig,
    clock: Callable[[], float] = time.perf_counter,
    state: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Seconds per section (by ``clock``) for one dry run of ``body``, with the collector
    paused where the API and the engine pause it."""
    took: dict[str, float] = {}
    built: dict[str, Any] = {}

    def timed(name: str, step: Callable[[], Any], paused: bool = True) -> Any:
        started = clock()
        if paused:
            with paused_gc():
                result = step()
        else:
            result = step()
        took[name] = clock() - started
        return result

    parsed = timed("parse", lambda: compact_records(parse_json(body)))  # as the score route does
    request = timed("validate", lambda: ScoreIn.model_validate(parsed), paused=False)
    command = ScoreCommand(request.model_id, request.entity, request.records, dry_run=True)
    built["request"] = timed("request", lambda: Engine._score_request(command, config))
    outcome = timed(
        "score_batch",
        lambda: score_batch(
            config,
            request.entity,
            state,
            built["request"]["ts"],
            built["request"]["values"],
            learn=False,
            source="rest",
        ),
    )
    columns = timed("columns", outcome.columns)
    head = ScoreOut(
        model_id=request.model_id,
        model_version=config.model_version,
        entity=request.entity,
        dry_run=True,
        points_seen=0,
        anomalies=sum(columns["is_anomaly"]),
        results=[],
        incidents=[],
    )
    timed("answer", lambda: score_reply(head, columns))
    return took


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="records per request")
    parser.add_argument("--runs", type=int, default=5, help="requests per size (median)")
    parser.add_argument("--cpu", action="store_true", help="CPU time instead of wall clock")
    args = parser.parse_args(argv)
    clock = time.process_time if args.cpu else time.perf_counter
    config = ModelConfig.from_dict(ModelConfigIn.model_validate(README_CONFIG).model_dump())
    print(f"{'records':>8} " + " ".join(f"{s:>11}" for s in (*SECTIONS, "total")) + "  (ms)")
    for size in (int(s) for s in args.sizes.split(",")):
        body = request_body(size, f"score-{size}")
        state = learned_state(config, f"score-{size}")
        runs = [one_request(body, config, clock, state) for _ in range(args.runs)]
        medians = [statistics.median(run[name] for run in runs) * 1000 for name in SECTIONS]
        total = statistics.median(sum(run.values()) for run in runs) * 1000
        print(f"{size:>8} " + " ".join(f"{m:>11.1f}" for m in (*medians, total)))


if __name__ == "__main__":
    main()
