"""docker-compose.yml and the Dockerfile agree with the code.

No Docker engine runs where the tests run, so these tests read the files instead: a misspelt variable,
an invalid value, a bootstrap address the broker does not advertise or a port that is not published
would otherwise only show when someone runs `docker compose up`.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices, ValidationError

from app.worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


# ------------------------------------------------------------------------------------------ helpers


def load_services() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    services: dict[str, Any] = compose["services"]
    return services


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as the container sees it: names to strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) for item in env)
    return {name: _as_env_string(value) for name, value in env.items()}


def _as_env_string(value: Any) -> str:
    if isinstance(value, bool):  # YAML `true`; compose wants it quoted, but read it as Kafka would
        return str(value).lower()
    return "" if value is None else str(value)


def setting_env_names() -> dict[str, str]:
    """Every environment variable the engine reads, mapped to its Settings field."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names[alias.upper()] = field_name
        elif isinstance(alias, AliasChoices):
            names.update({c.upper(): field_name for c in alias.choices if isinstance(c, str)})
        else:
            names[f"{prefix}{field_name}".upper()] = field_name
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final build stage, continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    instructions = [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in logical]
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def dockerfile_exec_form(instruction: str) -> list[str]:
    [args] = [a for name, a in dockerfile_instructions() if name == instruction]
    value = json.loads(args)  # the exec (JSON) form: no shell between Docker and the engine
    assert isinstance(value, list)
    return value


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, args in dockerfile_instructions():
        if name == "ENV":
            env.update(pair.split("=", 1) for pair in args.split())
    return env


def is_engine_variable(name: str) -> bool:
    return name.upper().startswith("ANOMALY_") or name.upper() in setting_env_names()


def container_environment() -> dict[str, str]:
    """The engine's variables inside its container: the image's ENV, overridden by compose.

    Only the engine's own names (ANOMALY_* and the aliases such as KAFKA_BOOTSTRAP_SERVERS):
    PATH and friends are the image's business.
    """
    env = {**dockerfile_env(), **environment(load_services()["engine"])}
    return {name: value for name, value in env.items() if is_engine_variable(name)}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No engine setting inherited from the environment the tests run in."""
    for name in list(os.environ):
        if is_engine_variable(name):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def compose_settings(clean_env: pytest.MonkeyPatch) -> Settings:
    """The settings the engine reads inside the container that `docker compose up` starts."""
    for name, value in container_environment().items():
        clean_env.setenv(name, value)
    return Settings()


def published_ports(service: dict[str, Any]) -> dict[int, int]:
    """Container port -> host port, from the short ("8000:8000") or long port syntax."""
    ports: dict[int, int] = {}
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports[int(entry["target"])] = int(entry["published"])
        else:
            *_, host, container = str(entry).split(":")
            ports[int(container.split("/")[0])] = int(host)
    return ports


def listeners(spec: str) -> dict[str, tuple[str, int]]:
    """Kafka listener list "NAME://host:port,..." -> {NAME: (host, port)}."""
    result: dict[str, tuple[str, int]] = {}
    for item in spec.split(","):
        name, address = item.strip().split("://", 1)
        host, port = address.rsplit(":", 1)
        result[name] = (host, int(port))
    return result


# -------------------------------------------------------------------------------------------- tests


def test_services_kafka_and_engine_exist() -> None:
    services = load_services()
    assert {"kafka", "engine"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")


def test_engine_builds_from_the_dockerfile_that_runs_the_engine() -> None:
    build = load_services()["engine"]["build"]
    if isinstance(build, str):  # `build: .`
        build = {"context": build}
    context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    assert (COMPOSE_FILE.parent / context / dockerfile).resolve() == DOCKERFILE
    assert DOCKERFILE.is_file()

    command = dockerfile_exec_form("ENTRYPOINT") + dockerfile_exec_form("CMD")
    assert command == ["anomaly-engine", "run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "anomaly-engine" in scripts, "the image's entry point is not a console script"


def test_image_runs_as_a_non_root_user() -> None:
    users = [args.split(":")[0] for name, args in dockerfile_instructions() if name == "USER"]
    assert users, "the final stage has no USER: the engine would run as root"
    assert users[-1] not in ("root", "0")


def test_engine_sets_only_variables_the_code_reads() -> None:
    known = setting_env_names()
    set_by_compose = set(environment(load_services()["engine"]))
    set_by_image = {n for n in dockerfile_env() if is_engine_variable(n)}
    unknown = sorted((set_by_compose | set_by_image) - set(known))
    assert not unknown, f"not read by app/worker/settings.py (a typo does nothing): {unknown}"


def test_engine_variables_have_valid_values(clean_env: pytest.MonkeyPatch) -> None:
    known = setting_env_names()
    errors = []
    for name, value in container_environment().items():
        if name not in known:
            continue
        try:
            Settings(**{known[name]: value})
        except ValidationError as exc:
            errors.append(f"{name}={value!r}: {exc.errors()[0]['msg']}")
    assert not errors, errors


def test_engine_reaches_kafka_on_a_listener_for_other_containers(
    compose_settings: Settings,
) -> None:
    services = load_services()
    kafka_env = environment(services["kafka"])
    advertised = listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    bound = listeners(kafka_env["KAFKA_LISTENERS"])
    protocols = dict(
        p.split(":") for p in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    kafka_hostnames = {"kafka", services["kafka"].get("hostname", "kafka")}

    assert compose_settings.kafka_bootstrap_servers, "empty: the engine would start its own broker"
    for address in compose_settings.kafka_bootstrap_servers.split(","):
        host, port = address.strip().rsplit(":", 1)
        matching = [n for n, hp in advertised.items() if hp == (host, int(port))]
        assert matching, f"{address} is not among the broker's advertised listeners {advertised}"
        [name] = matching
        assert host in kafka_hostnames, f"{host} is not the kafka service's name"
        assert bound[name][1] == int(port), f"the broker does not listen on {port} for {name}"
        assert protocols[name] == "PLAINTEXT", "the engine speaks plaintext to the broker"


def test_api_port_is_published_and_bound_on_all_interfaces(compose_settings: Settings) -> None:
    engine = load_services()["engine"]
    ports = published_ports(engine)
    assert compose_settings.api_port in ports, f"API port not published: {ports}"
    assert ports[compose_settings.api_port] == compose_settings.api_port
    assert compose_settings.api_host == "0.0.0.0", "a loopback API is unreachable from the host"
    exposed = [
        int(p.split("/")[0])
        for n, a in dockerfile_instructions()
        if n == "EXPOSE"
        for p in a.split()
    ]
    assert compose_settings.api_port in exposed, "the Dockerfile EXPOSEs another port"


def test_topics_match_make_run_and_the_broker_does_not_auto_create(
    compose_settings: Settings,
) -> None:
    topic_fields = [name for name in Settings.model_fields if name.endswith("_topic")]
    assert len(topic_fields) >= 6
    for name in topic_fields:
        default = Settings.model_fields[name].default
        assert getattr(compose_settings, name) == default, f"{name} differs from `make run`"

    kafka_env = environment(load_services()["kafka"])
    assert kafka_env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true").lower() == "false", (
        "an auto-created topic gets the broker's partition count, not ANOMALY_PARTITIONS"
    )


def test_engine_waits_for_a_healthy_kafka() -> None:
    services = load_services()
    depends_on = services["engine"].get("depends_on")
    assert isinstance(depends_on, dict), "the list form of depends_on only waits for the start"
    assert depends_on["kafka"]["condition"] == "service_healthy"
    healthcheck = services["kafka"].get("healthcheck", {})
    assert healthcheck.get("test") and not healthcheck.get("disable")
