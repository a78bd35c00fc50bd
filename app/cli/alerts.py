"""`anomaly-engine alerts tail`: follow the incidents on the alerts topic (:mod:`app.cli.tail`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
import typer

from app.cli.common import (
    ApiUrl,
    BootstrapServers,
    api_url_of,
    engine_health,
    fail,
    quiet_client_logs,
    settings,
)

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
    from app.cli.tail import describe_delivery, event_time

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
    from app.cli.tail import Tail, TailError, describe_delivery, run_tail
    from app.worker.topics import changelog_topic

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
