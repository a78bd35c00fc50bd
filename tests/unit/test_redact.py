"""No channel secret reaches a log line, a delivery detail or a repr."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.notify.channels import ChannelSettings, DeliveryResult, build_channels
from incidents.redact import REDACTED, Redactor, install_log_filter, remove_log_filter

ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"
SLACK_URL = "https://hooks.slack.example/services/T0001/B0002/s3cr3tT0k3nXYZ"
WEBHOOK_URL = "https://hooks.example.org/anomaly/w3bh00kpath?token=w3bh00ks3cr3t"
BEARER = "t0ps3cr3tb3ar3r"
SETTINGS = {
    "pagerduty_routing_key": ROUTING_KEY,
    "pagerduty_url": "https://events.pagerduty.example/v2/enqueue",
    "slack_webhook_url": SLACK_URL,
    "webhook_url": WEBHOOK_URL,
    "webhook_headers": '{"Authorization": "Bearer ' + BEARER + '"}',
    "alertmanager_url": "http://admin:amPassw0rd@127.0.0.1:9093",
}
# What must never show: the secrets and the parts that identify a URL on their own.
FORBIDDEN = [
    ROUTING_KEY,
    SLACK_URL,
    "/services/T0001/B0002/s3cr3tT0k3nXYZ",
    WEBHOOK_URL,
    "/anomaly/w3bh00kpath?token=w3bh00ks3cr3t",
    "token=w3bh00ks3cr3t",
    BEARER,
    "amPassw0rd",
]
EVENT = {
    "event": "open",
    "incident_id": "inc-1",
    "dedup_key": "inc-1",
    "model_id": "m",
    "entity": "host-1",
    "severity": "critical",
    "summary": "m on host-1: x",
    "opened_at": "2026-11-27T08:00:40.000Z",
}


def leaks(text: str) -> list[str]:
    return [secret for secret in FORBIDDEN if secret in text]


def test_redact_replaces_secrets_in_every_encoded_form() -> None:
    redactor = ChannelSettings.from_mapping(SETTINGS).redactor()
    forms = [
        ROUTING_KEY,
        SLACK_URL,
        quote(SLACK_URL, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SLACK_URL, safe="")),
        quote_plus(WEBHOOK_URL),
        SLACK_URL.replace("/", "\\/"),
        "hooks.slack.example/services/T0001/B0002/s3cr3tT0k3nXYZ",
        "POST /services/T0001/B0002/s3cr3tT0k3nXYZ HTTP/1.1",
        "GET /anomaly/w3bh00kpath?token=w3bh00ks3cr3t",
        "Authorization: Bearer " + BEARER,
        "http://admin:amPassw0rd@127.0.0.1:9093/api/v2/alerts",
    ]
    for form in forms:
        text = redactor.redact(f"before {form} after")
        assert leaks(text) == [], (form, text)
        assert REDACTED in text and text.startswith("before ") and text.endswith(" after")


def test_redact_leaves_other_text_alone() -> None:
    redactor = Redactor([ROUTING_KEY])
    assert redactor.redact("HTTP 500 Internal Server Error") == "HTTP 500 Internal Server Error"
    assert Redactor([]).redact(ROUTING_KEY) == ROUTING_KEY


@given(
    secret=st.text(min_size=8, max_size=40).filter(lambda s: s.strip() == s and s),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_secret_anywhere_in_any_text_is_removed(secret: str, before: str, after: str) -> None:
    assert secret not in Redactor([secret]).redact(before + secret + after)


def channel_results(*answers: httpx.Response | Exception) -> list[DeliveryResult]:
    """Every channel's result for one event, each answered by the next answer."""
    channels = build_channels(SETTINGS)
    results = []

    async def go() -> None:
        for channel in channels.values():
            queue = list(answers)

            def handler(request: httpx.Request, queue: list[Any] = queue) -> httpx.Response:
                answer = queue.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return answer

            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
                results.append(await channel.send(EVENT, client))

    asyncio.run(go())
    assert len(results) == 4
    return results


@pytest.mark.parametrize(
    "error_type", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
def test_httpx_errors_that_quote_the_url_leave_no_secret_in_the_detail(
    error_type: type[httpx.TransportError],
) -> None:
    message = f"failed to reach {SLACK_URL} / {WEBHOOK_URL} for key {ROUTING_KEY}"
    for result in channel_results(error_type(message)):
        assert not result.ok and result.retryable
        assert leaks(result.detail) == [], result.detail
        assert REDACTED in result.detail


def test_4xx_bodies_that_echo_the_routing_key_or_url_leave_no_secret_in_the_detail() -> None:
    echo = (
        f'{{"status":"invalid event","errors":["routing_key {ROUTING_KEY} is unknown"],'
        f'"url":"{quote(SLACK_URL, safe="")}","auth":"Bearer {BEARER}",'
        f'"path":"/anomaly/w3bh00kpath?token=w3bh00ks3cr3t"}}'
    )
    for result in channel_results(httpx.Response(400, text=echo)):
        assert not result.ok and not result.retryable and result.status == 400
        assert leaks(result.detail) == [], result.detail
        assert "invalid event" in result.detail  # the useful part stays


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A root handler writing to a buffer, with the redacting filter installed."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    log_filter = install_log_filter(ChannelSettings.from_mapping(SETTINGS).redactor())
    try:
        yield buffer
    finally:
        remove_log_filter(log_filter)
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_log_filter_redacts_messages_args_and_tracebacks(captured: io.StringIO) -> None:
    log = logging.getLogger("incidents.dispatcher")
    log.info("delivering to %s with key %s", SLACK_URL, ROUTING_KEY)
    log.warning(f"webhook {WEBHOOK_URL} answered 401 for Bearer {BEARER}")
    try:
        raise RuntimeError(f"cannot reach {SLACK_URL}")
    except RuntimeError:
        log.exception("delivery failed")
    output = captured.getvalue()
    assert leaks(output) == [], output
    assert output.count(REDACTED) >= 5
    assert "delivering to [redacted] with key [redacted]" in output
    assert "RuntimeError: cannot reach [redacted]" in output


def test_log_filter_covers_httpx_request_logging(captured: io.StringIO) -> None:
    """httpx logs every request URL at INFO; through the filter the webhook URL stays hidden."""
    channels = build_channels(SETTINGS)

    async def go() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200))
        async with httpx.AsyncClient(transport=transport) as client:
            for channel in channels.values():
                await channel.send(EVENT, client)

    asyncio.run(go())
    output = captured.getvalue()
    assert "HTTP Request: POST" in output
    assert leaks(output) == [], output


def test_a_filter_removed_no_longer_redacts() -> None:
    root = logging.getLogger()
    log_filter = install_log_filter(Redactor([ROUTING_KEY]))
    assert log_filter in root.filters
    remove_log_filter(log_filter)
    assert log_filter not in root.filters
