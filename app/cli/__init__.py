"""The `anomaly-engine` command: `run`, `demo`, `backtest` and `bench` here, the operator's commands
beside it (`produce`, `config apply|get`, `alerts tail`: :mod:`app.cli.produce`,
:mod:`app.cli.config`, :mod:`app.cli.alerts`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from app.cli.alerts import alerts_cli
from app.cli.config import config_cli
from app.cli.produce import produce
from app.worker.settings import Settings, get_settings

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
    from app.worker.kafka.broker import BrokerError
    from app.worker.start import run_worker
    from app.worker.topics import TopicError

    try:
        run_worker(settings)
    except (BrokerError, TopicError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


# produce, config apply|get, alerts tail
cli.command()(produce)
cli.add_typer(config_cli, name="config")
cli.add_typer(alerts_cli, name="alerts")


@cli.command()
def backtest(
    data: Annotated[Path, typer.Option(help="Folder of <category>/<file>.csv (timestamp,value)")],
    out: Annotated[Path, typer.Option(help="Results folder: <category>/<NAME>_<file>.csv")],
    name: Annotated[str, typer.Option(help="Detector name in the result files (no '_')")],
    config: Annotated[
        Path | None,
        typer.Option(
            help="One configuration as POST /anomaly/config takes (JSON); "
            "default: the recommended model"
        ),
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="JSON map of <category>/<file>.csv to start/end windows")
    ] = None,
    decisions: Annotated[
        bool, typer.Option("--decisions", help="anomaly_score = 1 where an incident opened, else 0")
    ] = False,
    jobs: Annotated[int, typer.Option(min=1, help="Files scored in parallel")] = 1,
) -> None:
    """Run the engine's scoring step over labelled CSV files (NAB layout) and write its scores.

    Prints per-file and overall precision/recall/F1 of the engine's alerts when --labels is given;
    progress goes to stderr.
    """
    from app.backtest.inputs import BacktestError
    from app.backtest.run import print_report, progress_printer, run_backtest

    try:
        report = run_backtest(
            data,
            config,
            out,
            name,
            labels,
            decisions=decisions,
            jobs=jobs,
            progress=progress_printer(sys.stderr),
        )
    except BacktestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    print_report(report)


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
    from app.cli.demo import start_feed
    from app.worker.kafka.broker import BrokerError
    from app.worker.start import run_worker
    from app.worker.topics import TopicError

    try:
        run_worker(settings, on_start=start_feed)
    except (BrokerError, TopicError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@cli.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Benchmarks on an embedded broker (what `make bench` runs, ~10 min): prints one table and
    writes docs/PERFORMANCE.md. --quick for a smoke run, --only NAME for one measurement,
    --help for every option. The benchmarks are not shipped: they run from a source checkout."""
    bench_main = _bench_main()
    if bench_main is None:
        typer.echo(
            "Benchmarks run from a source checkout of the engine, with `make bench`.", err=True
        )
        raise typer.Exit(2)
    raise typer.Exit(bench_main(ctx.args))


def _bench_main() -> Callable[[list[str]], int] | None:
    """The benchmarks' entry point: the top-level `bench` package beside `app/` in a source checkout
    (an editable install maps only the shipped packages, so the checkout's root is put on the path);
    None in an installed wheel or the Docker image, which do not ship it."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "bench" / "__main__.py").is_file() and str(checkout) not in sys.path:
        sys.path.append(str(checkout))
    try:
        from bench.__main__ import main
    except ModuleNotFoundError as missing:
        if missing.name not in ("bench", "bench.__main__"):
            raise
        return None
    return main


def main() -> None:
    cli()


if __name__ == "__main__":
    sys.exit(main())
