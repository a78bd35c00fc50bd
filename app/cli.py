"""The `anomaly-engine` command."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from app.commands import register as register_operator_commands
from app.settings import Settings, get_settings

cli = typer.Typer(
    pretty_exceptions_enable=False,
    help="Streaming anomaly detection on Kafka.",
    no_args_is_help=True,
    add_completion=False,
)


@cli.callback()
def _root() -> None:
    """Streaming anomaly detection on Kafka."""


def _settings(api_port: int | None, log_level: str | None) -> Settings:
    """Settings from the environment with the command-line options on top; exit 2 when invalid."""
    overrides: dict[str, object] = {}
    if api_port is not None:
        overrides["api_port"] = api_port
    if log_level is not None:
        overrides["log_level"] = log_level
    try:
        return get_settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"])
            typer.echo(f"error: setting {name}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


@cli.command()
def run(
    api_port: int | None = typer.Option(None, help="REST API port (ANOMALY_API_PORT, 8000)"),
    log_level: str | None = typer.Option(
        None, help="crit|error|warn|info|debug (ANOMALY_LOG_LEVEL)"
    ),
) -> None:
    """Run a worker with the REST API. Without KAFKA_BOOTSTRAP_SERVERS it starts an embedded broker."""
    settings = _settings(api_port, log_level)
    from app.broker import BrokerError
    from app.topics import TopicError
    from app.worker import run_worker

    try:
        run_worker(settings)
    except (BrokerError, TopicError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


# produce, config apply|get, alerts tail
register_operator_commands(cli)


@cli.command()
def demo(
    api_port: int | None = typer.Option(None, help="REST API port (ANOMALY_API_PORT, 8000)"),
    log_level: str | None = typer.Option(
        None, help="crit|error|warn|info|debug (ANOMALY_LOG_LEVEL)"
    ),
) -> None:
    """Run the engine with a synthetic feed and open incidents within seconds: watch them at
    http://127.0.0.1:8000/ui/. A metric with a spike and a slow drift, a log stream with an
    error burst, a user whose path goes somewhere rare. Embedded broker unless
    KAFKA_BOOTSTRAP_SERVERS."""
    settings = _settings(api_port, log_level)
    from app.broker import BrokerError
    from app.demo import start_feed
    from app.topics import TopicError
    from app.worker import run_worker

    try:
        run_worker(settings, on_start=start_feed)
    except (BrokerError, TopicError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    cli()


if __name__ == "__main__":
    sys.exit(main())
