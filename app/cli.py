"""The `anomaly-engine` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from app.settings import get_settings

cli = typer.Typer(
    pretty_exceptions_enable=False,
    help="Streaming anomaly detection on Kafka.",
    no_args_is_help=True,
    add_completion=False,
)


@cli.callback()
def _root() -> None:
    """Streaming anomaly detection on Kafka."""


@cli.command()
def run(
    api_port: int | None = typer.Option(None, help="REST API port (ANOMALY_API_PORT, 8000)"),
    log_level: str | None = typer.Option(
        None, help="crit|error|warn|info|debug (ANOMALY_LOG_LEVEL)"
    ),
) -> None:
    """Run a worker with the REST API. Without KAFKA_BOOTSTRAP_SERVERS it starts an embedded broker."""
    overrides: dict[str, object] = {}
    if api_port is not None:
        overrides["api_port"] = api_port
    if log_level is not None:
        overrides["log_level"] = log_level
    try:
        settings = get_settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"])
            typer.echo(f"error: setting {name}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    from app.broker import BrokerError
    from app.topics import TopicError
    from app.worker import run_worker

    try:
        run_worker(settings)
    except (BrokerError, TopicError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@cli.command()
def produce(
    files: Annotated[
        list[Path] | None, typer.Argument(help="JSON-lines files; standard input when none")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Topic (default: the metrics topic)")] = None,
) -> None:
    """Send JSON-lines telemetry, one message per line, keyed by its entity.

    The broker is KAFKA_BOOTSTRAP_SERVERS, else the one the engine on ANOMALY_API_PORT reports.
    """
    import asyncio

    from app.produce import ProduceError, discover_bootstrap, parse_lines, send

    settings = get_settings()
    try:
        if files:
            messages = []
            for path in files:
                with path.open() as handle:
                    messages += parse_lines(handle, str(path))
        else:
            messages = parse_lines(sys.stdin)
        bootstrap = discover_bootstrap(
            settings.kafka_bootstrap_servers, f"http://{settings.api_host}:{settings.api_port}"
        )
        target = topic or settings.metrics_topic
        asyncio.run(send(bootstrap, target, messages))
    except (ProduceError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"sent {len(messages)} messages to {target} at {bootstrap}")


def main() -> None:
    cli()


if __name__ == "__main__":
    sys.exit(main())
