"""Alertmanager API v2: ``POST {base}/api/v2/alerts`` with a list of one alert.

The alert's labels identify it (Alertmanager fingerprints alerts by their label set):
``alertname="AnomalyDetected"``, ``model_id``, ``entity``, ``severity``, ``source`` and
``incident_id``, all strings. Annotations carry ``summary``, ``description`` (the strongest
signals, one a line), ``score``, ``threshold`` and ``peak_score``. ``startsAt`` is the incident's
``opened_at``.

Alertmanager ends an alert that was posted without ``endsAt`` after its ``resolve_timeout``
(5 minutes by default) unless it is posted again. The engine posts only on incident events, so an
open or update event carries ``endsAt`` = send time + ``OPEN_ALERT_TTL`` (24 h): the alert stays
active until the resolve event posts the same labels with ``endsAt`` = ``resolved_at``, which ends
it at once (or, if the engine never resolves it, a day after the last event).

Labels must stay the same across an incident's events, or an update would be a second alert to
Alertmanager: the ``severity`` label is the severity the incident opened with
(``opened_severity``); the current one is the ``current_severity`` annotation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from incidents.incident import iso_time
from incidents.notify.channels.base import (
    DeliveryResult,
    HttpChannel,
    credentials_in,
    event_kind,
    post_json,
    target_id_for,
    text_of,
)
from incidents.notify.channels.slack import number
from incidents.redact import Redactor

ALERTNAME = "AnomalyDetected"
LABEL_KEYS = ("model_id", "entity", "severity", "source", "incident_id")
MAX_SIGNAL_LINES = 10
OPEN_ALERT_TTL = 24 * 3600.0


def alerts_url(base_url: str) -> str:
    """The alerts endpoint under an Alertmanager base URL (given with or without the path).

    >>> alerts_url("http://127.0.0.1:9093/"), alerts_url("http://am:9093/api/v2/alerts")
    ('http://127.0.0.1:9093/api/v2/alerts', 'http://am:9093/api/v2/alerts')
    """
    base = base_url.rstrip("/")
    return base if base.endswith("/api/v2/alerts") else base + "/api/v2/alerts"


def _description(event: Mapping[str, Any]) -> str:
    lines = [text_of(event.get("summary"))] if event.get("summary") else []
    for signal in list(event.get("signals") or [])[:MAX_SIGNAL_LINES]:
        if not isinstance(signal, Mapping):
            continue
        name = text_of(signal.get("feature") or signal.get("signal"), "signal")
        line = f"- {name}: value {number(signal.get('value'))}, score {number(signal.get('score'))}"
        if signal.get("center") is not None:
            line += f", baseline {number(signal.get('center'))}±{number(signal.get('spread'))}"
        lines.append(line)
    return "\n".join(lines)


def alert(
    event: Mapping[str, Any], *, now: float, generator_url: str | None = None
) -> dict[str, Any]:
    """The postable alert for an event (``now`` ends a resolve that has no ``resolved_at``).

    Examples
    --------
    >>> a = alert({"event": "resolve", "incident_id": "inc-1", "model_id": "m", "entity": "e",
    ...     "severity": "critical", "source": "metrics", "score": 12.0,
    ...     "opened_at": "2026-11-27T08:00:40.000Z", "resolved_at": "2026-11-27T08:05:00.000Z"},
    ...     now=0.0)
    >>> a["labels"]["alertname"], a["labels"]["incident_id"], a["startsAt"], a["endsAt"]
    ('AnomalyDetected', 'inc-1', '2026-11-27T08:00:40.000Z', '2026-11-27T08:05:00.000Z')
    >>> alert({"event": "open", "incident_id": "inc-1"}, now=0.0)["endsAt"]  # a day after sending
    '1970-01-02T00:00:00.000Z'
    >>> alert({"event": "update", "incident_id": "inc-1", "severity": "critical",
    ...        "opened_severity": "warning"}, now=0.0)["labels"]["severity"]
    'warning'
    """
    labels = {"alertname": ALERTNAME}
    for key in LABEL_KEYS:
        source_key = (
            "opened_severity" if key == "severity" and event.get("opened_severity") else key
        )
        value = text_of(event.get(source_key))
        if value:
            labels[key] = value
    annotations = {
        "summary": text_of(event.get("summary")),
        "description": _description(event),
        "score": number(event.get("score")),
        "threshold": number(event.get("threshold")),
        "peak_score": number(event.get("peak_score", event.get("score"))),
        "current_severity": text_of(event.get("severity")),
    }
    if event.get("model_version") is not None:
        annotations["model_version"] = text_of(event.get("model_version"))
    body: dict[str, Any] = {
        "labels": labels,
        "annotations": {k: v for k, v in annotations.items() if v and v != "n/a"},
    }
    starts_at = text_of(event.get("opened_at"))
    if starts_at:
        body["startsAt"] = starts_at
    if event_kind(event) == "resolve":
        ends_at = text_of(event.get("resolved_at")) or iso_time(now)
        # Alertmanager refuses an alert that ends before it starts; end it where it started.
        body["endsAt"] = starts_at if _before(ends_at, starts_at) else ends_at
    else:
        body["endsAt"] = iso_time(now + OPEN_ALERT_TTL)
    if generator_url:
        body["generatorURL"] = generator_url
    return body


def _before(a: str, b: str) -> bool:
    """Whether ISO-8601 time ``a`` is before ``b`` (False when either does not parse)."""
    try:
        return datetime.fromisoformat(a) < datetime.fromisoformat(b)
    except (TypeError, ValueError):
        return False


class AlertmanagerChannel(HttpChannel):
    """Posts alerts to one Alertmanager (or to an HA pair's load balancer)."""

    name = "alertmanager"
    sends = ("open", "update", "resolve")

    def __init__(
        self,
        base_url: str,
        *,
        generator_url: str | None = None,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(redactor or Redactor(credentials_in(base_url)), clock)
        self._url = alerts_url(base_url)
        self.generator_url = generator_url

    def target_id(self) -> str:
        return target_id_for(self.name, self._url)

    def body(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [alert(event, now=self._clock(), generator_url=self.generator_url)]

    async def send(self, event: Mapping[str, Any], client: httpx.AsyncClient) -> DeliveryResult:
        if not self.wants(event):
            return DeliveryResult.skipped(self.skip_reason(event))
        return await post_json(
            client, self._url, self.body(event), redactor=self._redactor, clock=self._clock
        )
