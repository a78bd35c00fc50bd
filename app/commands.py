"""The operator's commands of `anomaly-engine`: `produce`, `config apply|get`, `alerts tail`.

Registered on the main command by :func:`register` (``app.cli``). Every failure is one sentence on
stderr, never a traceback: exit code 2 when the input is wrong (a file, an option, a configuration
the engine refuses), 1 when the engine or the broker cannot do it (unreachable, a refused key).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import httpx
import orjson
import typer
from pydantic import ValidationError

from app.settings import Settings, get_settings
from incidents.config import configs_in

INPUT_ERROR = 2
FAILED = 1

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="The engine's REST API (default: http://ANOMALY_API_HOST:ANOMALY_API_PORT, "
        "i.e. http://127.0.0.1:8000)",
        show_default=False,
    ),
]
BootstrapServers = Annotated[
    str | None,
    typer.Option(
        "--bootstrap-servers",
        help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS, else the broker the "
        "engine at --api-url reports on /health)",
        show_default=False,
    ),
]


def _key_option(scope: str, fallback: str) -> Any:
    return typer.Option(
        "--key",
        help=f"API key, sent as 'Authorization: Bearer <key>' (default: the first key of "
        f"{fallback}); not needed when the engine has no key configured and runs on this machine",
        show_default=False,
    )


AdminKey = Annotated[str | None, _key_option("admin", "ANOMALY_ADMIN_KEY")]
ReadKey = Annotated[str | None, _key_option("read", "ANOMALY_READ_KEY, else ANOMALY_ADMIN_KEY")]


# --------------------------------------------------------------------------------- shared helpers


def quiet_client_logs() -> None:
    """Kafka client libraries log connection retries; the commands say what failed themselves."""
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def fail(message: str, code: int = FAILED) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"])
        fail(f"setting {name} from the environment: {error['msg']}", INPUT_ERROR)


def api_url_of(given: str | None, config: Settings) -> str:
    """``--api-url``, else the engine's own address (loopback when it listens on all)."""
    if given:
        return given.rstrip("/")
    host = config.api_host if config.api_host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{config.api_port}"


def api_key(given: str | None, config: Settings, *, admin: bool) -> str | None:
    """``--key``, else the first key of ANOMALY_ADMIN_KEY then ANOMALY_READ_KEY (admin calls), or
    the other way round (reads)."""
    if given:
        return given
    # For an admin call a read key still goes: the engine then says which scope is missing.
    secrets = [config.admin_key, config.read_key] if admin else [config.read_key, config.admin_key]
    for secret in secrets:
        keys = [k.strip() for k in secret.get_secret_value().split(",") if k.strip()]
        if keys:
            return keys[0]
    return None


def error_text(response: httpx.Response) -> str:
    """The ``detail`` of an error response, as sentences: ``field: message; ...``."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):
        return "; ".join(
            f"{item.get('field', 'body')}: {item.get('message', '')}"
            for item in detail
            if isinstance(item, dict)
        )
    if detail:
        return str(detail)
    return response.text.strip()[:300] or f"HTTP {response.status_code}"


def call_api(
    method: str, url: str, key: str | None, *, body: Any = None, admin: bool = False
) -> httpx.Response:
    """Send one request; unreachable engines and refusals (401, 403, 5xx) end the command."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    base = url.split("/anomaly/")[0]
    try:
        response = httpx.request(method, url, json=body, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        fail(
            f"no engine answers at {base} ({exc or type(exc).__name__}); start one with "
            "`make run`, or pass --api-url"
        )
    if response.status_code in (401, 403):
        variable = "ANOMALY_ADMIN_KEY" if admin else "ANOMALY_READ_KEY"
        fail(f"{error_text(response)} (pass --key, or set {variable})")
    if response.status_code == 413:
        fail(error_text(response), INPUT_ERROR)
    if response.status_code >= 500:
        fail(f"the engine answered HTTP {response.status_code}: {error_text(response)}")
    return response


def engine_health(api_url: str) -> dict[str, Any]:
    try:
        health = httpx.get(f"{api_url}/health", timeout=5).json()
    except (httpx.HTTPError, ValueError) as exc:
        fail(
            f"KAFKA_BOOTSTRAP_SERVERS is not set and no engine answers at {api_url} to say which "
            f"broker it uses ({exc or type(exc).__name__}); start one with `make run`, or pass "
            "--bootstrap-servers"
        )
    if not isinstance(health, dict) or "broker" not in health:
        fail(f"{api_url}/health did not answer like an anomaly engine")
    return health


def echo_json(document: Any) -> None:
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


# ------------------------------------------------------------------------------------------ produce


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
    from app.produce import Message, ProduceError, parse_csv, parse_jsonl, send_paced

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


# ------------------------------------------------------------------------------------------- config

config_cli = typer.Typer(
    help="Apply and read detector configurations (POST and GET /anomaly/config).",
    no_args_is_help=True,
)


def config_payload(document: Any) -> dict[str, Any]:
    """What POST /anomaly/config takes, from ``{"configs": [...]}``, one configuration or a list;
    ``updated_at`` (which `config get` prints) is dropped, so its output applies back.

    >>> config_payload({"model_id": "m", "detector": "zscore", "updated_at": "x"})
    {'configs': [{'model_id': 'm', 'detector': 'zscore'}]}
    """
    configs = [
        {k: v for k, v in c.items() if k != "updated_at"} if isinstance(c, dict) else c
        for c in configs_in(document)
    ]
    wrapped = isinstance(document, dict) and "configs" in document
    return {**(document if wrapped else {}), "configs": configs}


@config_cli.command("apply")
def config_apply(
    file: Annotated[
        Path,
        typer.Argument(
            help='A JSON file: {"configs": [...]} as POST /anomaly/config takes, one '
            "configuration object, or a list of them; - for standard input",
            allow_dash=True,
        ),
    ],
    api_url: ApiUrl = None,
    key: AdminKey = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the engine's answer as JSON")
    ] = False,
) -> None:
    """Apply configurations: every worker gets them, and they survive restarts (admin scope).

    A new model_version resets the model's learned state; the same version keeps it. A
    configuration the engine refuses is reported field by field (exit code 2).
    """
    config = settings()
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
        payload = config_payload(orjson.loads(text))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", INPUT_ERROR)
    except UnicodeDecodeError as exc:
        fail(f"cannot read {file}: not UTF-8 text ({exc.reason})", INPUT_ERROR)
    except orjson.JSONDecodeError as exc:
        fail(f"{file} is not valid JSON: {exc}", INPUT_ERROR)
    except ValueError as exc:
        fail(f"{file}: {exc}", INPUT_ERROR)
    url = api_url_of(api_url, config)
    response = call_api(
        "POST", f"{url}/anomaly/config", api_key(key, config, admin=True), body=payload, admin=True
    )
    if response.status_code == 422:
        typer.echo("error: the engine refused the configuration:", err=True)
        for sentence in error_text(response).split("; "):
            typer.echo(f"  {sentence}", err=True)
        raise typer.Exit(INPUT_ERROR)
    if response.status_code != 200:
        fail(f"the engine answered HTTP {response.status_code}: {error_text(response)}")
    stored = response.json()
    if as_json:
        echo_json(stored)
        return
    for item in stored["configs"]:
        channels = ", ".join(item.get("alert_channels") or []) or "no alert channel"
        typer.echo(
            f"applied {item['model_id']} version {item['model_version']}: {item['detector']} "
            f"on the {item.get('stream', 'metrics')} stream, alerts to {channels}"
        )


@config_cli.command("get")
def config_get(
    model_id: Annotated[
        str | None,
        typer.Argument(
            help="One model's configuration; all of them when omitted", show_default=False
        ),
    ] = None,
    api_url: ApiUrl = None,
    key: ReadKey = None,
) -> None:
    """Print configurations as JSON, in a form `config apply` takes back."""
    config = settings()
    url = api_url_of(api_url, config)
    path = "/anomaly/config" + (f"/{quote(model_id, safe='')}" if model_id else "")
    response = call_api("GET", url + path, api_key(key, config, admin=False))
    if response.status_code == 404:
        fail(error_text(response))
    if response.status_code != 200:
        fail(f"the engine answered HTTP {response.status_code}: {error_text(response)}", 2)
    echo_json(response.json())


# ------------------------------------------------------------------------------------------- alerts

alerts_cli = typer.Typer(help="Incidents on the alerts topic.", no_args_is_help=True)

SEVERITY_COLORS = {"critical": "red", "error": "magenta", "warning": "yellow", "info": "blue"}
EVENT_COLORS = {"open": "red", "update": "yellow", "resolve": "green"}


def render_event(event: Mapping[str, Any], deliveries: Mapping[str, Any], *, color: bool) -> str:
    """One incident event as a block: time, event, severity, entity, id; the summary; the model
    and score; its deliveries per channel.

    >>> event = {"event": "open", "seq": 0, "incident_id": "inc-1", "model_id": "m",
    ...     "model_version": "1", "entity": "host-1", "opened_at": "2026-11-27T08:00:40.000Z",
    ...     "severity": "critical", "score": 12.0, "threshold": 1.5, "summary": "m on host-1: x",
    ...     "alert_channels": ["slack", "webhook"]}
    >>> print(render_event(event, {"slack": {"status": "delivered"}}, color=False))
    2026-11-27T08:00:40.000Z  OPEN  critical  host-1  inc-1
      m on host-1: x
      model m version 1, score 12 over threshold 1.5, seq 0
      deliveries: slack delivered, webhook no delivery recorded
    """
    from app.tail import describe_delivery, event_time

    def style(text: str, fg: str | None, bold: bool = False) -> str:
        return typer.style(text, fg=fg, bold=bold) if color else text

    kind = str(event.get("event", "?"))
    severity = str(event.get("severity", "?"))
    head = "  ".join(
        [
            event_time(event),
            style(kind.upper(), EVENT_COLORS.get(kind), bold=True),
            style(severity, SEVERITY_COLORS.get(severity)),
            style(str(event.get("entity", "?")), None, bold=True),
            str(event.get("incident_id", "?")),
        ]
    )
    score = event.get("peak_score", event.get("score"))
    lines = [
        head,
        f"  {event.get('summary') or '(no summary)'}",
        f"  model {event.get('model_id')} version {event.get('model_version')}, score "
        f"{_number(score)} over threshold {_number(event.get('threshold'))}, seq {event.get('seq')}",
    ]
    channels = list(event.get("alert_channels") or [])
    if channels:
        states = [
            f"{channel} {describe_delivery(deliveries[channel]) if channel in deliveries else 'no delivery recorded'}"
            for channel in channels
        ]
        lines.append("  deliveries: " + ", ".join(states))
    else:
        lines.append("  deliveries: none (the model names no alert channel)")
    return "\n".join(lines)


def _number(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value:.4g}"
    return "?"


@alerts_cli.command("tail")
def alerts_tail(
    from_beginning: Annotated[
        bool,
        typer.Option(
            "--from-beginning",
            help="First print every incident event already on the topic (oldest first, with "
            "its deliveries), then follow",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print each event as published: one JSON document a line"),
    ] = False,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="Only incidents of this model")
    ] = None,
    entity: Annotated[str | None, typer.Option(help="Only incidents of this entity")] = None,
    count: Annotated[
        int | None, typer.Option(min=1, help="Exit after printing this many events")
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Topic (default: ANOMALY_ALERTS_TOPIC, anomaly.alerts)")
    ] = None,
    bootstrap_servers: BootstrapServers = None,
    api_url: ApiUrl = None,
) -> None:
    """Follow incident events (open, update, resolve) as the engine publishes them, pretty-printed
    one block per event with its deliveries; Ctrl-C to stop.

    Reads the topic directly from the broker (no consumer group), from its end unless
    --from-beginning. Delivery outcomes of the events shown are printed as they happen.
    """
    from app.tail import Tail, TailError, describe_delivery, run_tail
    from app.topics import changelog_topic

    config = settings()
    bootstrap = bootstrap_servers or config.kafka_bootstrap_servers
    app_id = config.app_id
    if not bootstrap:
        health = engine_health(api_url_of(api_url, config))
        bootstrap, app_id = str(health["broker"]), str(health.get("app_id") or app_id)
    alerts_topic = topic or config.alerts_topic
    color = sys.stdout.isatty()

    def matches(event: dict[str, Any]) -> bool:
        return (
            model_id is None or model_id in (event.get("models") or [event.get("model_id")])
        ) and (entity is None or event.get("entity") == entity)

    def on_event(event: dict[str, Any], deliveries: Mapping[str, Any]) -> None:
        if as_json:
            typer.echo(orjson.dumps(event).decode())
        else:
            typer.echo(render_event(event, deliveries, color=color) + "\n")

    def on_delivery(key: tuple[str, str, int], channel: str, row: dict[str, Any]) -> None:
        at = row.get("at")
        when = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
            if isinstance(at, int | float)
            else ""
        )
        typer.echo(f"{when}  {key[0]} {key[1]} -> {channel}: {describe_delivery(row)}")

    tail = Tail(
        bootstrap=bootstrap,
        alerts_topic=alerts_topic,
        ledger_topic=None
        if as_json
        else changelog_topic(config.model_copy(update={"app_id": app_id}), "deliveries"),
        on_event=on_event,
        on_delivery=on_delivery,
        on_ready=lambda: typer.echo(
            f"following {alerts_topic} at {bootstrap} (Ctrl-C to stop)", err=True
        ),
        on_skip=lambda reason: typer.echo(f"skipped: {reason}", err=True),
        matches=matches,
        from_beginning=from_beginning,
        count=count,
    )
    quiet_client_logs()
    try:
        run_tail(tail)
    except TailError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def register(cli: typer.Typer) -> None:
    """Add the commands of this module to the `anomaly-engine` command."""
    cli.command()(produce)
    cli.add_typer(config_cli, name="config")
    cli.add_typer(alerts_cli, name="alerts")
