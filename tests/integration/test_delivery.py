"""Delivery end to end: a real worker (``python -m app run``) on the session broker, real HTTP
receivers playing PagerDuty, Slack and a webhook, and a real Alertmanager.

Every test counts what the receivers got: a missing request and an extra one both fail. A test
never sleeps for a fixed time: it waits for requests (``wait_for``) or for a state the worker
reports (the ledger status in ``GET /anomaly/alerts``); "nothing more arrived" is checked only
after a positive condition proves the dispatcher is past the point where it could have sent it.

The worker runs with a 1 s delivery timeout and backoff capped at 2 s
(``ANOMALY_DELIVERY_TIMEOUT_S``, ``ANOMALY_DELIVERY_MAX_DELAY_S``); the backoff's base (1 s) is
not a setting.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from tests.integration.alertmanager import AlertmanagerProcess, start_alertmanager
from tests.integration.harness import EngineProcess, point, produce_aiokafka, read_topic, wait_until
from tests.integration.receivers import Receiver, Reply, Request

T0 = 1795766400.0  # 2026-11-27T08:00:00Z, event time
RESOLVE_AFTER = 10.0  # seconds of event time back to normal before an incident resolves
ROUTING_KEY = "R0ut1ngK3yD3l1v3ryT3st000000042"
SLACK_SECRET = "sl4ckS3cr3tP4thXq9"
SLACK_PATH = f"/services/T0D3L1V/B0D3L1V/{SLACK_SECRET}"
WEBHOOK_TOKEN = "w3bh00kT0k3n-Zq7"
WEBHOOK_BEARER = "b34r3rH34d3rS3cr3t"
ALL_CHANNELS = ["pagerduty", "slack", "webhook"]
PD_ACCEPTED = Reply(202, {"status": "success", "message": "Event processed"})

Spawn = Callable[..., EngineProcess]


# -- receivers that also record how they answered ------------------------------------------------


class Recorder(Receiver):
    """A :class:`Receiver` that also keeps, for each request, the reply it was given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answers: list[tuple[Request, Reply]] = []

    def _record(self, request: Request) -> Reply:
        reply = super()._record(request)
        with self._cond:
            self._answers.append((request, reply))
        return reply

    def accepted(self) -> list[Request]:
        """The requests answered 2xx without hanging: the deliveries, in arrival order."""
        with self._cond:
            answers = list(self._answers)
        ok = [r for r, reply in answers if 200 <= reply.status < 300 and reply.hang is None]
        return sorted(ok, key=lambda r: r.arrived_at)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Recorder]]:
    """``receiver(responses=[...], default=...)`` starts a Recorder; all stop after the test."""
    started: list[Recorder] = []

    def make(*args: Any, **kwargs: Any) -> Recorder:
        rx = Recorder(*args, **kwargs)
        rx.start()
        started.append(rx)
        return rx

    yield make
    for rx in started:
        rx.stop()


def receivers(
    receiver: Callable[..., Recorder], responses: list[Reply | int] | None = None
) -> dict[str, Recorder]:
    """One receiver per channel, each answering ``responses`` first, then success."""
    script = list(responses or [])
    return {
        "pagerduty": receiver(responses=script, default=PD_ACCEPTED),
        "slack": receiver(responses=script, default=Reply(200, "ok")),
        "webhook": receiver(responses=script, default=204),
    }


def channel_env(rx: dict[str, Recorder], **extra: str) -> dict[str, str]:
    """The worker's environment for the channels in ``rx``, plus ``extra``."""
    env = {"ANOMALY_DELIVERY_TIMEOUT_S": "1", "ANOMALY_DELIVERY_MAX_DELAY_S": "2"}
    if "pagerduty" in rx:
        env["ANOMALY_PAGERDUTY_ROUTING_KEY"] = ROUTING_KEY
        env["ANOMALY_PAGERDUTY_URL"] = rx["pagerduty"].url + "/v2/enqueue"
    if "slack" in rx:
        env["ANOMALY_SLACK_WEBHOOK_URL"] = rx["slack"].url + SLACK_PATH
    if "webhook" in rx:
        env["ANOMALY_WEBHOOK_URL"] = rx["webhook"].url + "/hook"
    env.update(extra)
    return env


# -- telemetry that opens and resolves incidents -------------------------------------------------


def config(model_id: str, channels: list[str]) -> dict[str, Any]:
    """A z-score model with a known baseline (100 ± 5): 160 scores 12 against a threshold of 3,
    a critical incident from one point; back at 100 for RESOLVE_AFTER s of event time, it
    resolves."""
    return {
        "configs": [
            {
                "model_id": model_id,
                "model_version": "1",
                "detector": "zscore",
                "params": {"mean": [100], "std": [5], "threshold": 3.0},
                "suppression": {"persistence": {"k": 1, "n": 1}},
                "resolve_after": RESOLVE_AFTER,
                "alert_channels": channels,
            }
        ]
    }


def spike(model_id: str, entity: str, ts: float) -> tuple[bytes, bytes]:
    return entity.encode(), point(model_id, entity, ts, [160.0])


def normal(model_id: str, entity: str, ts: float) -> tuple[bytes, bytes]:
    return entity.encode(), point(model_id, entity, ts, [100.0])


def incident(model_id: str, entity: str, ts: float, resolve: bool = True) -> list[Any]:
    """A normal point, a spike at ``ts`` (opens), and with ``resolve`` a normal point later."""
    points = [normal(model_id, entity, ts - 10), spike(model_id, entity, ts)]
    if resolve:
        points.append(normal(model_id, entity, ts + RESOLVE_AFTER))
    return points


def start(spawn: Spawn, env: dict[str, str], model_id: str, channels: list[str]) -> EngineProcess:
    engine = spawn(env=env)
    response = engine.post("/anomaly/config", config(model_id, channels))
    assert response.status_code == 200, response.text
    return engine


# -- what the worker reports -----------------------------------------------------------------


def statuses(engine: EngineProcess, entity: str) -> dict[str, Any]:
    """The delivery status of the entity's newest incident: ``{channel: {event: row}}``."""
    alerts = engine.alerts(entity=entity)
    return alerts[0]["deliveries"] if alerts else {}


def reached(
    engine: EngineProcess, entity: str, channels: list[str], events: dict[str, str]
) -> Callable[[], dict[str, Any] | None]:
    """A condition: on every channel, every event of ``events`` has its status."""

    def check() -> dict[str, Any] | None:
        found = statuses(engine, entity)
        for channel in channels:
            for event, status in events.items():
                if found.get(channel, {}).get(event, {}).get("status") != status:
                    return None
        return found

    return check


def wait_status(
    engine: EngineProcess,
    entity: str,
    channels: list[str],
    events: dict[str, str],
    timeout: float = 30,
) -> dict[str, Any]:
    try:
        return wait_until(
            reached(engine, entity, channels, events),
            timeout,
            f"{entity}: {events} on {channels}",
            interval=0.1,
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nlast status: {statuses(engine, entity)}\n{engine.log_tail(40)}"
        ) from None


# -- who a request was for -------------------------------------------------------------------

_INCIDENT_IN_SLACK = re.compile(r"Incident `([^`]+)`")


def delivery_of(channel: str, request: Request) -> tuple[str, str]:
    """``(incident_id, event)`` of a request a channel received."""
    body = request.json
    if channel == "pagerduty":
        return body["dedup_key"], "open" if body["event_action"] == "trigger" else "resolve"
    if channel == "slack":
        context = body["blocks"][-1]["elements"][0]["text"]
        match = _INCIDENT_IN_SLACK.search(context)
        assert match, context
        return match.group(1), "resolve" if "[RESOLVED]" in body["text"] else "open"
    if channel == "alertmanager":
        return body[0]["labels"]["incident_id"], "resolve" if body[0].get("endsAt") else "open"
    return body["incident_id"], body["event"]


def alerts_events(bootstrap: str, names: dict[str, str], count: int) -> list[dict[str, Any]]:
    """The first ``count`` incident events on the alerts topic, in event order per incident."""
    records = read_topic(bootstrap, names["alerts_topic"], lambda rs: len(rs) >= count)
    events = [r["value"] for r in records]
    assert len(events) == count, events
    return sorted(events, key=lambda e: (e["incident_id"], e["seq"]))


# -- 1. happy path -----------------------------------------------------------------------------


def test_every_channel_gets_open_and_resolve_exactly_once(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    rx = receivers(receiver)
    engine = start(spawn, channel_env(rx), "happy", ALL_CHANNELS)
    produce_aiokafka(bootstrap, names["metrics_topic"], incident("happy", "host-1", T0 + 100))

    for name in ALL_CHANNELS:
        rx[name].wait_for(2, timeout=30)
    status = wait_status(
        engine, "host-1", ALL_CHANNELS, {"open": "delivered", "resolve": "delivered"}
    )
    # The dispatcher recorded both events as final on every channel: nothing more is coming.
    assert {name: len(rx[name].requests) for name in ALL_CHANNELS} == dict.fromkeys(ALL_CHANNELS, 2)
    opened, resolved = alerts_events(bootstrap, names, 2)
    assert (opened["event"], resolved["event"]) == ("open", "resolve")
    incident_id = opened["incident_id"]
    for name in ALL_CHANNELS:
        assert status[name]["open"]["attempts"] == status[name]["resolve"]["attempts"] == 1

    trigger, resolve = rx["pagerduty"].bodies()
    assert all(r.path == "/v2/enqueue" for r in rx["pagerduty"].requests)
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == opened["dedup_key"] == incident_id
    assert trigger["routing_key"] == resolve["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "host-1"
    assert trigger["payload"]["summary"] == opened["summary"]
    assert trigger["payload"]["custom_details"]["incident_id"] == incident_id

    slack_open, slack_resolve = rx["slack"].bodies()
    assert all(r.path == SLACK_PATH for r in rx["slack"].requests)
    assert slack_open["text"].startswith(":red_circle: [CRITICAL] happy on host-1")
    assert slack_resolve["text"] == ":large_green_circle: [RESOLVED] happy on host-1"
    for body in (slack_open, slack_resolve):
        assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "context"]
        assert incident_id in body["blocks"][-1]["elements"][0]["text"]

    assert rx["webhook"].bodies() == [opened, resolved]  # the events as published, unchanged
    assert [r.headers["idempotency-key"] for r in rx["webhook"].requests] == [
        f"{incident_id}:open:0",
        f"{incident_id}:resolve:1",
    ]

    (listed,) = engine.alerts(entity="host-1")
    assert listed["incident_id"] == incident_id and listed["silenced"] is False
    assert listed["status"] == "resolved"


# -- 2.-5. the failure policy through the dispatcher -------------------------------------------


def test_429_with_retry_after_is_delivered_once_after_the_wait(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    retry_after = 2.0  # longer than the first backoff (at most 1 s), so only honouring it passes
    rx = receivers(
        receiver, [Reply(429, "rate limited", headers={"Retry-After": f"{retry_after:.0f}"})]
    )
    engine = start(spawn, channel_env(rx), "limited", ALL_CHANNELS)
    produce_aiokafka(
        bootstrap, names["metrics_topic"], incident("limited", "host-1", T0, resolve=False)
    )

    status = wait_status(engine, "host-1", ALL_CHANNELS, {"open": "delivered"})
    for name in ALL_CHANNELS:
        first, second = rx[name].requests  # exactly two: the 429 and the delivery
        assert second.arrived_at - first.arrived_at >= retry_after, name
        assert first.body == second.body
        assert status[name]["open"]["attempts"] == 2
        assert len(rx[name].accepted()) == 1


def test_two_500s_then_200_is_retried_and_delivered_once(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    rx = receivers(receiver, [Reply(500, "boom"), Reply(500, "boom")])
    engine = start(spawn, channel_env(rx), "flaky", ALL_CHANNELS)
    produce_aiokafka(
        bootstrap, names["metrics_topic"], incident("flaky", "host-1", T0, resolve=False)
    )

    status = wait_status(engine, "host-1", ALL_CHANNELS, {"open": "delivered"})
    for name in ALL_CHANNELS:
        requests = rx[name].requests
        assert len(requests) == 3, name
        assert len({r.body for r in requests}) == 1  # the same request each time
        gaps = [b.arrived_at - a.arrived_at for a, b in zip(requests, requests[1:], strict=False)]
        assert gaps[0] >= 0.75 and gaps[1] >= 1.5, gaps  # backoff 1 s then 2 s, 20 % jitter
        assert status[name]["open"]["status"] == "delivered"
        assert status[name]["open"]["attempts"] == 3
        assert status[name]["open"]["http_status"] in (200, 202, 204)
        assert len(rx[name].accepted()) == 1


def test_a_hanging_receiver_times_out_and_is_retried_then_delivered_once(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    rx = receivers(receiver, [Reply(200, hang=60.0)])  # far beyond the 1 s delivery timeout
    engine = start(spawn, channel_env(rx), "hang", ALL_CHANNELS)
    produce_aiokafka(bootstrap, names["metrics_topic"], incident("hang", "host-1", T0, False))

    status = wait_status(engine, "host-1", ALL_CHANNELS, {"open": "delivered"})
    for name in ALL_CHANNELS:
        hung, answered = rx[name].requests
        # the timeout (1 s) and then the first backoff (0.8 to 1 s)
        assert answered.arrived_at - hung.arrived_at >= 1.0 + 0.75, name
        assert status[name]["open"]["attempts"] == 2
        assert rx[name].accepted() == [answered]


def test_a_400_is_final_recorded_as_failed_and_not_retried(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    rx = receivers(receiver, [Reply(400, {"status": "invalid event", "errors": ["bad"]})])
    engine = start(spawn, channel_env(rx), "refused", ALL_CHANNELS)
    produce_aiokafka(bootstrap, names["metrics_topic"], incident("refused", "host-1", T0, False))

    status = wait_status(engine, "host-1", ALL_CHANNELS, {"open": "failed"})
    for name in ALL_CHANNELS:
        row = status[name]["open"]
        assert (row["attempts"], row["http_status"]) == (1, 400)
        assert row["error"].startswith("HTTP 400 Bad Request")

    # A later incident is delivered: the dispatcher went past the refused one without retrying.
    produce_aiokafka(bootstrap, names["metrics_topic"], incident("refused", "host-2", T0, False))
    wait_status(engine, "host-2", ALL_CHANNELS, {"open": "delivered"})
    for name in ALL_CHANNELS:
        refused, delivered = rx[name].requests
        assert delivery_of(name, refused)[0] == engine.alerts(entity="host-1")[0]["incident_id"]
        assert rx[name].accepted() == [delivered]


# -- 6. Slack's rate limit -----------------------------------------------------------------------


def test_a_burst_to_one_slack_webhook_is_spaced_a_second_apart_and_none_dropped(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    burst = 5
    rx = {"slack": receiver(default=Reply(200, "ok"))}
    engine = start(spawn, channel_env(rx), "burst", ["slack"])  # ANOMALY_SLACK_INTERVAL_S: 1 s
    entities = [f"host-{i}" for i in range(burst)]
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [p for entity in entities for p in incident("burst", entity, T0, resolve=False)],
    )

    requests = rx["slack"].wait_for(burst, timeout=30)
    for entity in entities:
        wait_status(engine, entity, ["slack"], {"open": "delivered"})
    requests = rx["slack"].requests
    assert len(requests) == burst
    gaps = [b.arrived_at - a.arrived_at for a, b in zip(requests, requests[1:], strict=False)]
    # At least a second apart as the receiver sees them: the spacing counts from the end of the
    # previous request (counting from its start gave 0.94 s after a slow first connection).
    assert min(gaps) >= 1.0, gaps
    incidents = {delivery_of("slack", r)[0] for r in requests}
    assert incidents == {engine.alerts(entity=e)[0]["incident_id"] for e in entities}


# -- 7. silences ---------------------------------------------------------------------------------


def test_a_silenced_incident_is_listed_as_silenced_and_sent_nowhere(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    rx = receivers(receiver)
    engine = start(spawn, channel_env(rx), "quiet", ALL_CHANNELS)
    silence = {
        "matchers": {"entity": "db-quiet"},
        "starts_at": T0 - 3600,  # silences are judged at the incident's event time
        "ends_at": time.time() + 3600,
        "comment": "maintenance",
    }
    response = engine.post("/anomaly/silences", silence)
    assert response.status_code == 201, response.text
    silence_id = response.json()["id"]

    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        incident("quiet", "db-quiet", T0) + incident("quiet", "db-loud", T0),
    )
    both = {"open": "delivered", "resolve": "delivered"}
    wait_status(engine, "db-loud", ALL_CHANNELS, both)
    quiet = wait_status(
        engine, "db-quiet", ALL_CHANNELS, {"open": "silenced", "resolve": "silenced"}
    )
    for name in ALL_CHANNELS:
        assert quiet[name]["open"]["silence_id"] == silence_id
        assert quiet[name]["resolve"]["silence_id"] == silence_id

    (silenced,) = engine.alerts(entity="db-quiet")
    (loud,) = engine.alerts(entity="db-loud")
    assert silenced["silenced"] is True and silenced["status"] == "resolved"
    assert loud["silenced"] is False
    for name in ALL_CHANNELS:
        received = [delivery_of(name, r) for r in rx[name].requests]
        assert received == [(loud["incident_id"], "open"), (loud["incident_id"], "resolve")], name

    # A silence created after an incident paged does not hold back its resolve: a silence must
    # not leave a PagerDuty incident triggered for ever.
    produce_aiokafka(bootstrap, names["metrics_topic"], incident("quiet", "db-paged", T0, False))
    wait_status(engine, "db-paged", ALL_CHANNELS, {"open": "delivered"})
    late = {"matchers": {"entity": "db-paged"}, "starts_at": T0 - 3600, "ends_at": time.time() + 60}
    assert engine.post("/anomaly/silences", late).status_code == 201
    produce_aiokafka(
        bootstrap, names["metrics_topic"], [normal("quiet", "db-paged", T0 + RESOLVE_AFTER)]
    )
    wait_status(engine, "db-paged", ALL_CHANNELS, both)
    paged = engine.alerts(entity="db-paged")[0]["incident_id"]
    for name in ALL_CHANNELS:
        received = [delivery_of(name, r) for r in rx[name].requests[2:]]
        assert received == [(paged, "open"), (paged, "resolve")], name


def test_a_silence_created_after_delivery_does_not_mark_the_delivered_incident_silenced(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    rx = {"pagerduty": receiver(default=PD_ACCEPTED)}
    engine = start(spawn, channel_env(rx), "later", ["pagerduty"])
    produce_aiokafka(bootstrap, names["metrics_topic"], incident("later", "db-1", T0, False))
    wait_status(engine, "db-1", ["pagerduty"], {"open": "delivered"})
    silence = {"matchers": {"entity": "db-1"}, "starts_at": T0 - 60, "ends_at": time.time() + 60}
    assert engine.post("/anomaly/silences", silence).status_code == 201

    (listed,) = engine.alerts(entity="db-1")
    assert listed["deliveries"]["pagerduty"]["open"]["status"] == "delivered"
    assert len(rx["pagerduty"].accepted()) == 1
    assert listed["silenced"] is False  # it paged: showing it as silenced misleads the operator


# -- 8. a real Alertmanager ----------------------------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    with start_alertmanager(tmp_path) as am:
        yield am


def test_alertmanager_lists_the_alert_while_open_and_not_once_resolved(
    spawn: Spawn, alertmanager: AlertmanagerProcess, bootstrap: str, names: dict[str, str]
) -> None:
    env = {"ANOMALY_ALERTMANAGER_URL": alertmanager.url, "ANOMALY_DELIVERY_TIMEOUT_S": "2"}
    engine = start(spawn, env, "am", ["alertmanager"])
    # Event times close to now: Alertmanager ends an alert at its endsAt (the resolution time).
    opened_at = time.time() - 120
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [*incident("am", "web-1", opened_at, resolve=False), spike("am", "web-2", opened_at)],
    )
    wait_status(engine, "web-1", ["alertmanager"], {"open": "delivered"})
    wait_status(engine, "web-2", ["alertmanager"], {"open": "delivered"})
    web1 = engine.alerts(entity="web-1")[0]["incident_id"]
    web2 = engine.alerts(entity="web-2")[0]["incident_id"]

    def listed(incident_id: str, **flags: Any) -> list[dict[str, Any]]:
        return alertmanager.alerts(filter=[f'incident_id="{incident_id}"'], **flags)

    (alert,) = wait_until(lambda: listed(web1), 10, "the alert in Alertmanager")
    assert alert["status"]["state"] == "active"
    assert alert["labels"] == {
        "alertname": "AnomalyDetected",
        "model_id": "am",
        "entity": "web-1",
        "severity": "critical",
        "source": names["metrics_topic"],
        "incident_id": web1,
    }
    assert alert["annotations"]["summary"].startswith("am on web-1: feature_0")

    produce_aiokafka(
        bootstrap, names["metrics_topic"], [normal("am", "web-1", opened_at + RESOLVE_AFTER)]
    )
    wait_status(engine, "web-1", ["alertmanager"], {"open": "delivered", "resolve": "delivered"})
    # Alertmanager 0.25's v2 API leaves a resolved alert out of GET /api/v2/alerts altogether,
    # whatever the active/silenced/inhibited/unprocessed filters: it does not list it "resolved".
    wait_until(lambda: listed(web1) == [], 10, "the resolved alert to leave Alertmanager's list")
    for flags in ({"active": False}, {"active": True, "unprocessed": True}):
        assert listed(web1, **flags) == []
    # The other incident is still open and listed: the empty answer is not a broken query.
    assert [a["labels"]["incident_id"] for a in alertmanager.alerts()] == [web2]


# -- 9. SIGKILL while a receiver fails -------------------------------------------------------------


def test_sigkill_while_pagerduty_fails_then_restart_delivers_every_incident_once(
    spawn: Spawn,
    receiver: Callable[..., Recorder],
    bootstrap: str,
    names: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PagerDuty fails while Slack and the webhook deliver; the worker is killed (SIGKILL) while
    it retries PagerDuty, and restarted while PagerDuty still fails.

    The events Slack and the webhook delivered before the kill are not committed (PagerDuty had
    not finished them), so the restarted worker reads them again: the ledger must stop a second
    send, and PagerDuty must get each of them once it recovers.
    """
    rx = receivers(receiver)
    env = channel_env(rx, ANOMALY_SLACK_INTERVAL_S="0.2")
    engine = start(spawn, env, "fault", ALL_CHANNELS)
    topic = names["metrics_topic"]
    before = [f"a-{i}" for i in range(3)]  # opened and delivered before the failure
    during = [f"b-{i}" for i in range(3)]  # opened while PagerDuty fails
    while_down = [f"c-{i}" for i in range(3)]  # opened while the worker is dead
    others = ["slack", "webhook"]

    produce_aiokafka(bootstrap, topic, [spike("fault", e, T0) for e in before])
    for entity in before:
        wait_status(engine, entity, ALL_CHANNELS, {"open": "delivered"})

    rx["pagerduty"].program(default=Reply(500, "down for maintenance"))
    failing_from = len(rx["pagerduty"].requests)
    produce_aiokafka(
        bootstrap,
        topic,
        [normal("fault", e, T0 + RESOLVE_AFTER) for e in before]
        + [spike("fault", e, T0 + 100) for e in during],
    )
    for entity in before:
        wait_status(engine, entity, others, {"open": "delivered", "resolve": "delivered"})
    for entity in during:
        wait_status(engine, entity, others, {"open": "delivered"})
    rx["pagerduty"].wait_for(failing_from + 2, timeout=30)  # retrying when the worker dies
    engine.kill()  # SIGKILL

    produce_aiokafka(bootstrap, topic, [spike("fault", e, T0 + 200) for e in while_down])
    engine.start()  # same environment, same data directory
    engine.wait_ready()
    restarted_from = len(rx["pagerduty"].requests)
    rx["pagerduty"].wait_for(restarted_from + 1, timeout=30)  # retried after the restart
    rx["pagerduty"].program(default=PD_ACCEPTED)  # recovers

    expected: set[tuple[str, str]] = set()
    for entity in before + during + while_down:
        events = {"open": "delivered"}
        if entity in before:
            events["resolve"] = "delivered"
        wait_status(engine, entity, ALL_CHANNELS, events, timeout=60)
        incident_id = engine.alerts(entity=entity)[0]["incident_id"]
        expected |= {(incident_id, event) for event in events}

    # Every event is final on every channel: nothing more can be sent. Count what arrived.
    figures = {}
    for name in ALL_CHANNELS:
        delivered = [delivery_of(name, r) for r in rx[name].accepted()]
        figures[name] = {
            "requests": len(rx[name].requests),
            "delivered": len(delivered),
            "refused_attempts": len(rx[name].requests) - len(delivered),
            "duplicates": len(delivered) - len(set(delivered)),
        }
    restarted_log = engine.log_path.read_text(errors="replace").split("===== start 2 =====")[1]
    replays = {
        name: len(re.findall(rf"already delivered on {name} \(a replay\)", restarted_log))
        for name in ALL_CHANNELS
    }
    with capsys.disabled():
        print(
            f"\nfault test: {len(before + during + while_down)} incidents, "
            f"{len(expected)} events per channel; per channel {json.dumps(figures)}; "
            f"replays after the restart skipped by the ledger {json.dumps(replays)}"
        )
    for name in ALL_CHANNELS:
        delivered = [delivery_of(name, r) for r in rx[name].accepted()]
        assert sorted(delivered) == sorted(expected), name  # each once: none lost, none twice
    assert figures["pagerduty"]["refused_attempts"] >= 3
    # The test did exercise the ledger: Slack and the webhook saw replays of what they had sent.
    assert replays["slack"] >= 1 and replays["webhook"] >= 1, replays


# -- 10. secrets -----------------------------------------------------------------------------------


def secret_forms(secrets: list[str]) -> set[str]:
    return {form for s in secrets for form in (s, quote(s, safe=""), quote_plus(s), quote(s))}


def test_no_secret_in_the_log_the_topics_the_api_or_the_dlq(
    spawn: Spawn, receiver: Callable[..., Recorder], bootstrap: str, names: dict[str, str]
) -> None:
    secrets = [ROUTING_KEY, SLACK_SECRET, WEBHOOK_TOKEN, WEBHOOK_BEARER]
    # Hostile receivers echo the secrets in their error bodies, which end up in error details.
    echo = f"refused {ROUTING_KEY} {SLACK_SECRET} {WEBHOOK_TOKEN} Bearer {WEBHOOK_BEARER}"
    rx = {
        "pagerduty": receiver(
            responses=[Reply(500, echo), Reply(429, echo, {"Retry-After": "1"})],
            default=PD_ACCEPTED,
        ),
        "slack": receiver(responses=[Reply(400, echo)], default=Reply(200, "ok")),
        "webhook": receiver(responses=[Reply(200, hang=60.0), Reply(503, echo)], default=204),
    }
    webhook_url = rx["webhook"].url + f"/hook?token={WEBHOOK_TOKEN}"
    env = channel_env(
        rx,
        ANOMALY_WEBHOOK_URL=webhook_url,
        ANOMALY_WEBHOOK_HEADERS=json.dumps({"Authorization": f"Bearer {WEBHOOK_BEARER}"}),
        ANOMALY_LOG_LEVEL="debug",
    )
    secrets += [env["ANOMALY_SLACK_WEBHOOK_URL"], webhook_url, f"Bearer {WEBHOOK_BEARER}"]
    engine = start(spawn, env, "secret", ALL_CHANNELS)
    produce_aiokafka(
        bootstrap,
        names["metrics_topic"],
        [*incident("secret", "host-1", T0), (b"host-1", b"not json at all")],
    )

    status = wait_status(engine, "host-1", ["pagerduty", "webhook"], {"resolve": "delivered"})
    status = wait_status(engine, "host-1", ["slack"], {"open": "failed", "resolve": "delivered"})
    assert rx["webhook"].requests[0].headers["authorization"] == f"Bearer {WEBHOOK_BEARER}"
    assert status["slack"]["open"]["error"].startswith("HTTP 400 Bad Request: refused [redacted]")

    log = engine.log_path.read_text(errors="replace")
    # The paths that could leak ran, and the redacting filter broke no log record.
    assert "HTTP Request: POST [redacted]" in log and "not delivered to slack: HTTP 400" in log
    assert "Logging error" not in log
    dlq = read_topic(bootstrap, names["dlq_topic"], lambda rs: len(rs) >= 1)
    alerts = read_topic(bootstrap, names["alerts_topic"], lambda rs: len(rs) >= 2)
    ledger_topic = f"{names['app_id']}-deliveries-changelog"
    ledger = read_topic(bootstrap, ledger_topic, lambda rs: len(rs) >= 6)
    places = {
        "worker log": log,
        "alerts topic": json.dumps([r["value"] for r in alerts]),
        "DLQ": json.dumps([r["value"] for r in dlq]),
        "deliveries changelog": json.dumps([r["value"] for r in ledger]),
        "GET /anomaly/alerts": engine.get("/anomaly/alerts").text,
        "GET /anomaly/config": engine.get("/anomaly/config").text,
        "GET /health": engine.get("/health").text,
        "GET /anomaly/silences": engine.get("/anomaly/silences").text,
    }
    assert dlq and "none of the known formats" in places["DLQ"]
    leaks = [
        (where, form)
        for where, text in places.items()
        for form in secret_forms(secrets)
        if form in text
    ]
    assert leaks == []
