"""The Alertmanager channel against a real Alertmanager (Debian's prometheus-alertmanager).

Alertmanager's v2 ``GET /api/v2/alerts`` lists alerts that have not ended: an alert posted
without ``endsAt`` is ``active`` with ``endsAt`` = now + resolve_timeout; once the resolve is
posted with ``endsAt`` in the past, the API leaves the alert out entirely (with any of the
``active``/``silenced``/``inhibited``/``unprocessed`` filters), which is how v2 shows "resolved".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from incidents.incident import iso_time
from incidents.notify.channels import AlertmanagerChannel, DeliveryResult
from tests.integration.alertmanager import AlertmanagerProcess, start_alertmanager, wait_until


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    with start_alertmanager(tmp_path) as am:
        yield am


def event(incident_id: str, kind: str, opened: float, **extra: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "status": "resolved" if kind == "resolve" else "open",
        "incident_id": incident_id,
        "dedup_key": incident_id,
        "model_id": "metrics-v1",
        "model_version": "1.0",
        "entity": "host-1",
        "source": "metrics",
        "severity": "critical",
        "score": 12.0,
        "threshold": 1.5,
        "summary": "metrics-v1 on host-1: feature_0 12.0σ above baseline (160 vs 100±5)",
        "signals": [
            {"feature": "feature_0", "value": 160.0, "score": 12.0, "center": 100.0, "spread": 5.0}
        ],
        "opened_at": iso_time(opened),
        **extra,
    }


def send(channel: AlertmanagerChannel, ev: Mapping[str, Any]) -> DeliveryResult:
    async def go() -> DeliveryResult:
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await channel.send(ev, client)

    return asyncio.run(go())


def ours(am: AlertmanagerProcess, incident_id: str, **params: Any) -> list[dict[str, Any]]:
    return am.alerts(filter=[f'incident_id="{incident_id}"'], **params)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_open_is_active_in_alertmanager_and_resolve_ends_it(
    alertmanager: AlertmanagerProcess,
) -> None:
    channel = AlertmanagerChannel(alertmanager.url, generator_url="http://127.0.0.1/anomaly/alerts")
    opened = time.time() - 60
    # A second incident stays open throughout: proof that an empty answer later is not a broken query.
    other = event("inc-still-open", "open", opened, entity="host-2")
    assert send(channel, other).ok

    result = send(channel, event("inc-am-1", "open", opened))
    assert (result.ok, result.status) == (True, 200)

    wait_until(
        lambda: [a["status"]["state"] for a in ours(alertmanager, "inc-am-1")] == ["active"],
        timeout=10,
        what="the alert to be active",
    )
    (alert,) = ours(alertmanager, "inc-am-1")
    assert alert["labels"] == {
        "alertname": "AnomalyDetected",
        "model_id": "metrics-v1",
        "entity": "host-1",
        "severity": "critical",
        "source": "metrics",
        "incident_id": "inc-am-1",
    }
    assert alert["annotations"]["summary"].startswith("metrics-v1 on host-1: feature_0")
    assert alert["generatorURL"] == "http://127.0.0.1/anomaly/alerts"
    assert abs(epoch(alert["startsAt"]) - opened) < 0.01
    assert epoch(alert["endsAt"]) > time.time()  # open: ends only when resolve_timeout passes

    # An update re-posts the same alert: still one, still active.
    assert send(channel, event("inc-am-1", "update", opened, peak_score=15.0)).ok
    assert [a["status"]["state"] for a in ours(alertmanager, "inc-am-1")] == ["active"]

    resolved_at = time.time() - 1
    resolve = event("inc-am-1", "resolve", opened, resolved_at=iso_time(resolved_at))
    assert send(channel, resolve).ok

    for flags in ({}, {"active": False}, {"active": True, "unprocessed": True}):
        assert ours(alertmanager, "inc-am-1", **flags) == []
    assert [a["labels"]["incident_id"] for a in alertmanager.alerts()] == ["inc-still-open"]
