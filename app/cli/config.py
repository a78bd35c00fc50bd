"""`anomaly-engine config apply|get`: apply and read detector configurations over the REST API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import orjson
import typer

from app.cli.common import (
    INPUT_ERROR,
    AdminKey,
    ApiUrl,
    ReadKey,
    api_key,
    api_url_of,
    call_api,
    echo_json,
    error_text,
    fail,
    settings,
)
from incidents.config import configs_in

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
