"""Channels without a network: request formats, the shared HTTP policy, settings, skips."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest

from incidents.notify.channels import (
    AlertmanagerChannel,
    Channel,
    ChannelConfigError,
    ChannelSettings,
    DeliveryResult,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
    build_channels,
    select_channels,
)
from incidents.notify.channels.base import parse_retry_after

ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"
SLACK_URL = "https://hooks.slack.example/services/T0001/B0002/s3cr3tT0k3nXYZ"
WEBHOOK_URL = "https://hooks.example.org/anomaly?token=w3bh00ks3cr3t"

OPEN: dict[str, Any] = {
    "schema": "anomaly.incident/v1",
    "event": "open",
    "status": "open",
    "incident_id": "inc-44ffe1730e09044a3ca9",
    "dedup_key": "inc-44ffe1730e09044a3ca9",
    "model_id": "metrics-v1",
    "model_version": "1.0",
    "entity": "host-1",
    "source": "metrics",
    "ts": 1795766440.0,
    "score": 12.0,
    "peak_score": 12.0,
    "threshold": 1.5,
    "severity": "critical",
    "summary": "metrics-v1 on host-1: feature_0 12.0σ above baseline (160 vs 100±5)",
    "signals": [
        {"feature": "feature_0", "value": 160.0, "score": 12.0, "center": 100.0, "spread": 5.0}
    ],
    "opened_at": "2026-11-27T08:00:40.000Z",
    "last_seen": "2026-11-27T08:00:40.000Z",
    "silenced": False,
    "seq": 1,
}
UPDATE = {**OPEN, "event": "update", "peak_score": 14.0, "seq": 2}
RESOLVE = {
    **OPEN,
    "event": "resolve",
    "status": "resolved",
    "resolved_at": "2026-11-27T08:10:00.000Z",
    "seq": 3,
}


class Recorder:
    """An httpx MockTransport handler that records requests and answers from a list."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else httpx.Response(200)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


def send(
    channel: Channel, event: Mapping[str, Any], *answers: httpx.Response | Exception
) -> tuple[DeliveryResult, Recorder]:
    recorder = Recorder(*answers)

    async def go() -> DeliveryResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
            return await channel.send(event, client)

    return asyncio.run(go()), recorder


def all_channels() -> list[Channel]:
    return list(
        build_channels(
            {
                "pagerduty_routing_key": ROUTING_KEY,
                "slack_webhook_url": SLACK_URL,
                "webhook_url": WEBHOOK_URL,
                "webhook_headers": '{"Authorization": "Bearer t0ps3cr3tb3ar3r"}',
                "alertmanager_url": "http://127.0.0.1:9093",
            }
        ).values()
    )


# -- PagerDuty -------------------------------------------------------------------------------


def test_pagerduty_trigger_follows_events_api_v2() -> None:
    result, rec = send(PagerDutyChannel(ROUTING_KEY), OPEN, httpx.Response(202))
    assert result == DeliveryResult(True, False, 202, None, "HTTP 202 Accepted")
    (request,) = rec.requests
    assert request.method == "POST"
    assert str(request.url) == "https://events.pagerduty.com/v2/enqueue"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert set(body) == {"routing_key", "event_action", "dedup_key", "payload"}
    assert body["routing_key"] == ROUTING_KEY
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == OPEN["dedup_key"]
    payload = body["payload"]
    assert payload["summary"] == OPEN["summary"]
    assert payload["source"] == "host-1"
    assert payload["severity"] == "critical"
    assert payload["timestamp"] == "2026-11-27T08:00:40.000Z"
    assert payload["component"] == "metrics-v1"
    assert payload["group"] == "metrics"
    assert payload["class"] == "anomaly"
    details = payload["custom_details"]
    assert (
        details["score"] == 12.0 and details["threshold"] == 1.5 and details["peak_score"] == 12.0
    )
    assert details["root_cause"] == OPEN["summary"]
    assert details["signals"] == OPEN["signals"]
    assert details["incident_id"] == OPEN["incident_id"]
    assert details["model_version"] == "1.0"


def test_pagerduty_resolve_has_only_key_action_and_dedup_key() -> None:
    result, rec = send(PagerDutyChannel(ROUTING_KEY), RESOLVE, httpx.Response(202))
    assert result.ok
    assert rec.bodies() == [
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": OPEN["dedup_key"]}
    ]


def test_pagerduty_summary_is_cut_to_1024_characters_with_an_ellipsis() -> None:
    event = {**OPEN, "summary": "x" * 5000}
    _, rec = send(PagerDutyChannel(ROUTING_KEY), event)
    summary = rec.bodies()[0]["payload"]["summary"]
    assert len(summary) == 1024
    assert summary.endswith("…") and summary.startswith("x" * 1023)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("error", "error"), ("warning", "warning"), ("info", "info")],
)
def test_pagerduty_severity_comes_from_the_incident(severity: str, expected: str) -> None:
    _, rec = send(PagerDutyChannel(ROUTING_KEY), {**OPEN, "severity": severity})
    assert rec.bodies()[0]["payload"]["severity"] == expected


def test_pagerduty_falls_back_to_the_incident_id_and_tolerates_missing_optional_keys() -> None:
    minimal = {"incident_id": "inc-1", "model_id": "m", "entity": "e", "severity": "bogus"}
    _, rec = send(PagerDutyChannel(ROUTING_KEY), minimal)
    body = rec.bodies()[0]
    assert body["dedup_key"] == "inc-1"
    assert body["payload"]["severity"] == "error"
    assert body["payload"]["summary"]
    assert "timestamp" not in body["payload"]


def test_pagerduty_url_can_be_overridden() -> None:
    _, rec = send(PagerDutyChannel(ROUTING_KEY, "http://127.0.0.1:1/v2/enqueue"), OPEN)
    assert str(rec.requests[0].url) == "http://127.0.0.1:1/v2/enqueue"


# -- which events each channel sends ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "wanted"),
    [
        (lambda: PagerDutyChannel(ROUTING_KEY), {"open", "resolve"}),
        (lambda: SlackChannel(SLACK_URL), {"open", "resolve"}),
        (lambda: SlackChannel(SLACK_URL, include_updates=True), {"open", "update", "resolve"}),
        (lambda: WebhookChannel(WEBHOOK_URL), {"open", "resolve"}),
        (lambda: WebhookChannel(WEBHOOK_URL, include_updates=True), {"open", "update", "resolve"}),
        (lambda: AlertmanagerChannel("http://am:9093"), {"open", "update", "resolve"}),
    ],
)
def test_channels_send_only_the_events_they_want(
    make: Callable[[], Channel], wanted: set[str]
) -> None:
    for event in (OPEN, UPDATE, RESOLVE):
        channel = make()
        result, rec = send(channel, event)
        if event["event"] in wanted:
            assert channel.wants(event)
            assert result.ok and result.status == 200
            assert len(rec.requests) == 1
        else:
            assert not channel.wants(event)
            assert result.ok and result.status is None and result.was_skipped
            assert result.detail.startswith("skipped: ")
            assert rec.requests == []


# -- Slack -----------------------------------------------------------------------------------


def test_slack_open_message_has_fallback_text_and_blocks() -> None:
    result, rec = send(SlackChannel(SLACK_URL), OPEN, httpx.Response(200, text="ok"))
    assert result.ok
    assert str(rec.requests[0].url) == SLACK_URL
    body = rec.bodies()[0]
    assert body["text"] == f":red_circle: [CRITICAL] {OPEN['summary']}"
    header, fields, cause, context = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert "metrics-v1 on host-1" in header["text"]["text"]
    texts = [f["text"] for f in fields["fields"]]
    assert "*Model*\nmetrics-v1" in texts and "*Entity*\nhost-1" in texts
    assert "*Severity*\ncritical" in texts
    assert "*Score / threshold*\n12 / 1.5 (peak 12)" in texts
    assert "*Opened*\n2026-11-27T08:00:40.000Z" in texts
    assert OPEN["summary"] in cause["text"]["text"]
    assert "feature_0" in cause["text"]["text"]
    assert OPEN["incident_id"] in context["elements"][0]["text"]


def test_slack_resolve_is_a_green_resolved_message() -> None:
    _, rec = send(SlackChannel(SLACK_URL), RESOLVE)
    body = rec.bodies()[0]
    assert body["text"].startswith(":large_green_circle: [RESOLVED] metrics-v1 on host-1")
    assert body["blocks"][0]["text"]["text"].startswith(":large_green_circle: Resolved:")
    assert "*Resolved*\n2026-11-27T08:10:00.000Z" in [
        f["text"] for f in body["blocks"][1]["fields"]
    ]


def test_slack_respects_block_kit_limits_and_escapes_control_characters() -> None:
    signals = [
        {"feature": f"f{i}" * 50, "value": 1.0, "score": 9.0, "center": 0.0, "spread": 1.0}
        for i in range(40)
    ]
    event = {
        **OPEN,
        "entity": "<!channel> & " + "h" * 400,
        "summary": "<@U123> " + "s&" * 5000,
        "signals": signals,
        "source": "metrics",
    }
    body = send(SlackChannel(SLACK_URL), event)[1].bodies()[0]
    header, fields, cause, _ = body["blocks"]
    assert len(header["text"]["text"]) <= 150
    assert len(fields["fields"]) <= 10
    assert all(len(f["text"]) <= 2000 for f in fields["fields"])
    assert len(cause["text"]["text"]) <= 3000
    assert len(body["text"]) <= 3000
    for text in [body["text"], cause["text"]["text"], *(f["text"] for f in fields["fields"])]:
        assert "<!channel>" not in text and "<@U123>" not in text
        # Cutting never leaves half an entity such as "&am".
        assert all(part.startswith(("amp;", "lt;", "gt;")) for part in text.split("&")[1:])


# -- webhook ---------------------------------------------------------------------------------


def test_webhook_posts_the_event_unchanged_with_idempotency_key_and_extra_headers() -> None:
    channel = WebhookChannel(WEBHOOK_URL, {"Authorization": "Bearer t0ps3cr3tb3ar3r"})
    result, rec = send(channel, OPEN, httpx.Response(204))
    assert result.ok and result.status == 204
    (request,) = rec.requests
    assert str(request.url) == WEBHOOK_URL
    assert json.loads(request.content) == OPEN
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer t0ps3cr3tb3ar3r"
    assert request.headers["idempotency-key"] == f"{OPEN['incident_id']}:open:1"


def test_webhook_idempotency_key_without_seq() -> None:
    event = {k: v for k, v in RESOLVE.items() if k != "seq"}
    _, rec = send(WebhookChannel(WEBHOOK_URL), event)
    assert rec.requests[0].headers["idempotency-key"] == f"{OPEN['incident_id']}:resolve"


def test_webhook_refuses_nan_as_a_final_failure_without_sending() -> None:
    result, rec = send(WebhookChannel(WEBHOOK_URL), {**OPEN, "score": float("nan")})
    assert not result.ok and not result.retryable
    assert "JSON" in result.detail
    assert rec.requests == []


# -- Alertmanager ----------------------------------------------------------------------------


def test_alertmanager_open_posts_one_alert_with_string_labels_ending_a_day_later() -> None:
    channel = AlertmanagerChannel(
        "http://am:9093/", generator_url="http://engine/alerts", clock=lambda: 1795766700.0
    )
    result, rec = send(channel, OPEN)
    assert result.ok
    assert str(rec.requests[0].url) == "http://am:9093/api/v2/alerts"
    (alert,) = rec.bodies()[0]
    assert alert["labels"] == {
        "alertname": "AnomalyDetected",
        "model_id": "metrics-v1",
        "entity": "host-1",
        "severity": "critical",
        "source": "metrics",
        "incident_id": OPEN["incident_id"],
    }
    assert alert["annotations"]["summary"] == OPEN["summary"]
    assert "feature_0" in alert["annotations"]["description"]
    assert alert["annotations"]["score"] == "12"
    assert all(isinstance(v, str) for v in alert["annotations"].values())
    assert alert["startsAt"] == OPEN["opened_at"]
    # active until the resolve ends it (or a day after the last event, if the engine never does)
    assert alert["endsAt"] == "2026-11-28T08:05:00.000Z"
    assert alert["generatorURL"] == "http://engine/alerts"


def test_alertmanager_update_reposts_and_resolve_sets_ends_at() -> None:
    channel = AlertmanagerChannel("http://am:9093", clock=lambda: 1795766700.0)
    (update,) = send(channel, UPDATE)[1].bodies()[0]
    assert update["endsAt"] == "2026-11-28T08:05:00.000Z"
    assert update["labels"]["incident_id"] == OPEN["incident_id"]
    (resolved,) = send(channel, RESOLVE)[1].bodies()[0]
    assert resolved["endsAt"] == "2026-11-27T08:10:00.000Z"
    assert resolved["labels"] == update["labels"]


def test_alertmanager_labels_keep_the_opening_severity_when_it_changes() -> None:
    channel = AlertmanagerChannel("http://am:9093")
    escalated = {**UPDATE, "severity": "critical", "opened_severity": "warning"}
    (alert,) = send(channel, escalated)[1].bodies()[0]
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["current_severity"] == "critical"


def test_alertmanager_resolve_without_resolved_at_ends_now_and_never_before_start() -> None:
    event = {k: v for k, v in RESOLVE.items() if k != "resolved_at"}
    channel = AlertmanagerChannel("http://am:9093", clock=lambda: 1795766700.0)
    (alert,) = send(channel, event)[1].bodies()[0]
    assert alert["endsAt"] == "2026-11-27T08:05:00.000Z"
    early = {**RESOLVE, "resolved_at": "2026-11-27T07:00:00.000Z"}
    (alert,) = send(channel, early)[1].bodies()[0]
    assert alert["endsAt"] == alert["startsAt"]


# -- the shared HTTP policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "ok", "retryable"),
    [
        (200, True, False),
        (202, True, False),
        (204, True, False),
        (301, False, False),
        (400, False, False),
        (401, False, False),
        (403, False, False),
        (404, False, False),
        (410, False, False),
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
    ],
)
def test_every_channel_applies_the_same_status_policy(
    status: int, ok: bool, retryable: bool
) -> None:
    for channel in all_channels():
        result, _ = send(channel, OPEN, httpx.Response(status, text="nope"))
        assert (result.ok, result.retryable, result.status) == (ok, retryable, status), channel


def test_retry_after_seconds_and_http_date_are_parsed() -> None:
    channel = SlackChannel(SLACK_URL, clock=lambda: 1795766400.0)
    result, _ = send(channel, OPEN, httpx.Response(429, headers={"Retry-After": "7"}))
    assert result.retryable and result.retry_after == 7.0
    # An HTTP-date counts from the receiver's own Date header when it sends one ...
    dated = httpx.Response(
        503,
        headers={
            "Retry-After": "Fri, 27 Nov 2026 08:01:00 GMT",
            "Date": "Fri, 27 Nov 2026 08:00:45 GMT",
        },
    )
    assert send(channel, OPEN, dated)[0].retry_after == 15.0
    # ... else from our clock.
    undated = httpx.Response(503, headers={"Retry-After": "Fri, 27 Nov 2026 08:01:00 GMT"})
    assert send(channel, OPEN, undated)[0].retry_after == 60.0
    garbage = httpx.Response(429, headers={"Retry-After": "later please"})
    result = send(channel, OPEN, garbage)[0]
    assert result.retryable and result.retry_after is None


def test_parse_retry_after_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Fri, 27 Nov 2026 07:00:00 GMT", now=1795766400.0) == 0.0


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (httpx.ConnectError("connection refused"), True),
        (httpx.ReadTimeout("read timed out"), True),
        (httpx.ConnectTimeout("connect timed out"), True),
        (httpx.WriteTimeout("write timed out"), True),
        (httpx.PoolTimeout("no connection free"), True),
        (httpx.ReadError("connection reset by peer"), True),
        (httpx.RemoteProtocolError("server disconnected without sending a response"), True),
        (httpx.UnsupportedProtocol("bad scheme"), False),
        (httpx.LocalProtocolError("illegal header"), False),
    ],
)
def test_network_failures_are_retryable_and_local_mistakes_are_final(
    error: Exception, retryable: bool
) -> None:
    for channel in all_channels():
        result, _ = send(channel, OPEN, error)
        assert not result.ok and result.status is None
        assert result.retryable is retryable
        assert type(error).__name__ in result.detail


def test_detail_quotes_a_short_snippet_of_the_response_body() -> None:
    result, _ = send(PagerDutyChannel(ROUTING_KEY), OPEN, httpx.Response(400, text="x" * 10_000))
    assert result.detail.startswith("HTTP 400 Bad Request: xxx")
    assert len(result.detail) < 300


# -- identity, repr, settings ----------------------------------------------------------------


def test_target_ids_are_stable_distinct_and_not_secret() -> None:
    first, second = all_channels(), all_channels()
    ids = [c.target_id() for c in first]
    assert ids == [c.target_id() for c in second]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 12 and int(i, 16) >= 0 for i in ids)
    other = SlackChannel("https://hooks.slack.example/services/T0001/B0002/another")
    assert other.target_id() != SlackChannel(SLACK_URL).target_id()


def test_repr_of_channels_and_settings_shows_no_secret() -> None:
    settings = ChannelSettings.from_mapping(
        {
            "pagerduty_routing_key": ROUTING_KEY,
            "slack_webhook_url": SLACK_URL,
            "webhook_url": WEBHOOK_URL,
            "webhook_headers": '{"Authorization": "Bearer t0ps3cr3tb3ar3r"}',
            "alertmanager_url": "http://admin:amPassw0rd@127.0.0.1:9093",
        }
    )
    texts = [repr(settings), str(settings)] + [repr(c) for c in build_channels(settings).values()]
    for secret in (ROUTING_KEY, SLACK_URL, WEBHOOK_URL, "t0ps3cr3tb3ar3r", "amPassw0rd", "s3cr3t"):
        assert not any(secret in text for text in texts), secret
    assert "t0ps3cr3tb3ar3r" in settings.secrets() and "amPassw0rd" in settings.secrets()


def test_build_channels_builds_only_what_is_configured() -> None:
    assert build_channels({}) == {}
    assert build_channels({"slack_webhook_url": "  ", "webhook_url": ""}) == {}
    channels = build_channels(
        {"PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "pagerduty_url": "http://127.0.0.1:8/x"}
    )
    assert list(channels) == ["pagerduty"]
    assert isinstance(channels["pagerduty"], PagerDutyChannel)
    assert channels["pagerduty"].url == "http://127.0.0.1:8/x"
    flags = build_channels({"slack_webhook_url": SLACK_URL, "slack_include_updates": "true"})
    assert flags["slack"].wants(UPDATE)


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"slack_webhook_url": "hooks.slack.example/s3cr3t"}, "slack_webhook_url", "URL"),
        ({"webhook_url": "ftp://example.org/s3cr3t"}, "webhook_url", "URL"),
        ({"alertmanager_url": "http://"}, "alertmanager_url", "URL"),
        ({"pagerduty_routing_key": "abc def s3cr3t"}, "pagerduty_routing_key", "spaces"),
        ({"webhook_headers": "{not json s3cr3t"}, "webhook_headers", "JSON object"),
        ({"webhook_headers": '["s3cr3t"]'}, "webhook_headers", "JSON object"),
        ({"webhook_headers": '{"X-Token": 5}'}, "webhook_headers", "string"),
        ({"webhook_headers": '{"X-Token": "a\\r\\ns3cr3t"}'}, "webhook_headers", "line breaks"),
        ({"webhook_headers": '{"Bad Name": "s3cr3t"}'}, "webhook_headers", "token"),
        ({"webhook_headers": '{"Content-Type": "text/s3cr3t"}'}, "webhook_headers", "sets it"),
        ({"slack_include_updates": "perhaps"}, "slack_include_updates", "true or false"),
    ],
)
def test_malformed_settings_raise_a_sentence_naming_the_key_without_the_value(
    settings: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        build_channels(settings)
    message = str(caught.value)
    assert caught.value.field == field
    assert message.startswith(field) and message.endswith(".")
    assert words in message
    assert "s3cr3t" not in message


def test_select_channels_maps_configured_names_and_reports_missing_ones() -> None:
    channels = build_channels({"slack_webhook_url": SLACK_URL, "webhook_url": WEBHOOK_URL})
    found, missing = select_channels(["webhook", "pagerduty", "slack"], channels)
    assert [c.name for c in found] == ["webhook", "slack"]
    assert missing == ["pagerduty"]


def test_every_built_channel_satisfies_the_protocol() -> None:
    for channel in all_channels():
        assert isinstance(channel, Channel)
        assert channel.name in ("pagerduty", "slack", "webhook", "alertmanager")
