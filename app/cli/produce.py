"""`anomaly-engine produce`: replay telemetry files into a topic at a chosen rate (the reading and
pacing are in :mod:`app.cli.replay`)."""

from __future__ import annotations

import asyncio
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.common import (
    INPUT_ERROR,
    ApiUrl,
    BootstrapServers,
    api_url_of,
    engine_health,
    fail,
    quiet_client_logs,
    settings,
)


class InputFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"


class RateUnit(StrEnum):
    points = "points"
    messages = "messages"


def produce(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="JSON-lines or CSV files (by extension: .csv is CSV), sent in order; standard "
            "input when none",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(help="Topic (default: ANOMALY_METRICS_TOPIC, telemetry.metrics)"),
    ] = None,
    model_id: Annotated[
        str | None,
        typer.Option(
            "--model-id",
            help="CSV: the model the points are for (required). JSON lines: fills in lines "
            "without a model_id",
        ),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(
            help="CSV: the entity (host, service, user) of rows without an entity column. JSON "
            "lines: fills in lines without an entity. Messages are keyed by entity"
        ),
    ] = None,
    input_format: Annotated[
        InputFormat,
        typer.Option(
            "--format", help="Input format; auto: CSV for .csv files, JSON lines otherwise"
        ),
    ] = InputFormat.auto,
    rate: Annotated[
        float,
        typer.Option(
            min=0,
            help="At most this many points per second (messages per second with --per "
            "messages); 0: as fast as the broker takes them",
        ),
    ] = 0.0,
    per: Annotated[RateUnit, typer.Option(help="What --rate counts")] = RateUnit.points,
    batch: Annotated[
        int,
        typer.Option(
            min=1,
            help="CSV: points per message, sent in the columnar form, one entity per message "
            "(1: one point per message)",
        ),
    ] = 1,
    bootstrap_servers: BootstrapServers = None,
    api_url: ApiUrl = None,
    progress: Annotated[
        bool,
        typer.Option("--progress/--no-progress", help="A progress bar with points/s on stderr"),
    ] = True,
) -> None:
    """Replay telemetry files into a telemetry topic, keyed by entity, at a chosen rate.

    JSON lines are sent one message per line, as they are. CSV files need a header: a timestamp
    (or ts) column, ISO-8601 or epoch seconds; value columns in the model's feature order; an
    optional entity column and label column (0/1). Every input is checked before anything is
    sent.

    Example: anomaly-engine produce cpu.csv --model-id metrics-v1 --entity host-1 --rate 200
    --batch 10
    """
    from app.cli.replay import Message, ProduceError, parse_csv, parse_jsonl, send_paced

    config = settings()
    sources: list[tuple[str, Any, bool]] = []  # name, lines, csv
    for path in files or []:
        as_csv = input_format is InputFormat.csv or (
            input_format is InputFormat.auto and path.suffix.lower() == ".csv"
        )
        try:
            sources.append((str(path), path.read_text().splitlines(), as_csv))
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {path}: {exc}", INPUT_ERROR)
    if not files:
        as_csv = input_format is InputFormat.csv
        if sys.stdin.isatty():
            kind = "CSV" if as_csv else "JSON lines"
            typer.echo(f"reading {kind} from standard input (Ctrl-D to end)", err=True)
        sources.append(("stdin", sys.stdin, as_csv))
    messages: list[Message] = []
    try:
        for name, lines, as_csv in sources:
            if as_csv:
                if not model_id:
                    fail(
                        f"{name} is CSV: give --model-id, the model its points are for",
                        INPUT_ERROR,
                    )
                messages += parse_csv(lines, name, model_id=model_id, entity=entity, batch=batch)
            else:
                if batch > 1:
                    fail(
                        f"--batch groups CSV rows; {name} is JSON lines, sent one message per "
                        "line (use --format csv for a CSV file without the .csv extension)",
                        INPUT_ERROR,
                    )
                messages += parse_jsonl(lines, name, model_id=model_id, entity=entity)
    except ProduceError as exc:
        fail(str(exc), INPUT_ERROR)
    if not messages:
        fail("nothing to send: the input has no telemetry", INPUT_ERROR)
    target = topic or config.metrics_topic
    bootstrap = bootstrap_servers or config.kafka_bootstrap_servers
    if not bootstrap:
        bootstrap = str(engine_health(api_url_of(api_url, config))["broker"])
    total = sum(m.points for m in messages)
    quiet_client_logs()
    started = time.monotonic()
    bar = _progress_bar(enabled=progress)
    task = bar.add_task(target, total=total)
    try:
        asyncio.run(
            send_paced(
                bootstrap,
                target,
                messages,
                rate=rate,
                per=per.value,
                on_connected=bar.start,
                on_acked=lambda m: bar.advance(task, m.points),
                max_request_size=config.max_message_bytes,
            )
        )
    except ProduceError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; some messages may have been sent", 130)
    finally:
        bar.stop()
    elapsed = max(time.monotonic() - started, 1e-9)
    typer.echo(
        f"sent {len(messages)} messages ({total} points) to {target} at {bootstrap} "
        f"in {elapsed:.1f} s ({total / elapsed:,.0f} points/s)"
    )


def _progress_bar(*, enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class PointsPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed or 0.0
            return Text(f"{speed:,.0f} points/s", style="progress.data.speed")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("points"),
        PointsPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
