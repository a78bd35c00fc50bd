"""Every operation of the OpenAPI schema shows an example of its request body and its responses,
and the examples are true: requests are accepted, responses match their models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema_rs import Draft202012Validator

from api import create_api
from api.schemas.config import README_CONFIG_EXAMPLE
from tests.unit.test_api import README_PAYLOAD, FakeEngine

API = create_api(FakeEngine())
SCHEMA: dict[str, Any] = TestClient(API).get("/openapi.json").json()
METHODS = ("get", "post", "put", "patch", "delete")


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        found: dict[str, Any] = SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return found
    return schema


def media_examples(media: dict[str, Any]) -> list[Any]:
    """The examples a reader sees for a media type: its own, else its schema's."""
    if "example" in media:
        return [media["example"]]
    if media.get("examples"):
        return [item["value"] for item in media["examples"].values()]
    schema = resolve(media.get("schema", {}))
    if "example" in schema:
        return [schema["example"]]
    return list(schema.get("examples") or [])


def contents() -> Iterator[tuple[str, str, str, str, dict[str, Any]]]:
    """(method, path, "request" or a status, media type, media) for every body and response."""
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            body = operation.get("requestBody")
            for media_type, media in (body or {}).get("content", {}).items():
                yield method, path, "request", media_type, media
            for status, response in operation["responses"].items():
                for media_type, media in response.get("content", {}).items():
                    yield method, path, status, media_type, media


def test_every_request_body_and_response_has_an_example() -> None:
    missing = [
        f"{method.upper()} {path} {where} ({media_type})"
        for method, path, where, media_type, media in contents()
        if not media_examples(media)
    ]
    assert not missing, "no example for:\n" + "\n".join(missing)
    # the walk saw the routes: bodies, successes and refusals
    wheres = {where for _, _, where, _, _ in contents()}
    assert {"request", "200", "201", "401", "403", "404", "413", "422", "429", "503"} <= wheres


def test_the_readme_configuration_is_an_example_of_post_config() -> None:
    body = SCHEMA["paths"]["/anomaly/config"]["post"]["requestBody"]["content"]["application/json"]
    assert README_PAYLOAD == README_CONFIG_EXAMPLE
    assert README_PAYLOAD in media_examples(body)


REQUESTS = [
    (method, path, index, value)
    for method, path, where, media_type, media in contents()
    if where == "request" and media_type == "application/json"
    for index, value in enumerate(media_examples(media))
]


@pytest.mark.parametrize(
    ("method", "path", "index", "value"),
    REQUESTS,
    ids=[f"{m.upper()} {p} #{i}" for m, p, i, _ in REQUESTS],
)
def test_every_request_example_is_accepted(method: str, path: str, index: int, value: Any) -> None:
    with TestClient(create_api(FakeEngine(max_points=1000)), client=("127.0.0.1", 50000)) as client:
        response = client.request(method, path, json=value)
    assert response.status_code < 300, response.text


RESPONSES = [
    (method, path, status, index, media["schema"], value)
    for method, path, status, media_type, media in contents()
    if status != "request" and media_type == "application/json"
    for index, value in enumerate(media_examples(media))
]


@pytest.mark.parametrize(
    ("method", "path", "status", "index", "schema", "value"),
    RESPONSES,
    ids=[f"{m.upper()} {p} {s} #{i}" for m, p, s, i, _, _ in RESPONSES],
)
def test_every_response_example_matches_its_schema(
    method: str, path: str, status: str, index: int, schema: dict[str, Any], value: Any
) -> None:
    """Validated against the response's schema as published (the response model's)."""
    validator = Draft202012Validator({**schema, "components": SCHEMA["components"]})
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(value)]
    assert not errors, errors
