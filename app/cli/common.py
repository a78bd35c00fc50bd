"""What the operator's commands share: the engine's API and key options, calling the API, and
failing with one sentence.

Every failure is one sentence on stderr, never a traceback: exit code 2 when the input is wrong (a
file, an option, a configuration the engine refuses), 1 when the engine or the broker cannot do it
(unreachable, a refused key).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, NoReturn

import httpx
import orjson
import typer
from pydantic import ValidationError

from app.worker.settings import Settings, get_settings, keys_in

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
        keys = keys_in(secret)
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
