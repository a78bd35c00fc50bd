"""PagerDuty Events API v2: ``trigger`` on open, ``resolve`` on resolve, one ``dedup_key``.

The request follows the published schema (``POST https://events.pagerduty.com/v2/enqueue``):
``routing_key``, ``event_action``, ``dedup_key`` and, for a trigger, ``payload`` with the required
``summary`` (at most 1024 characters), ``source`` and ``severity`` (critical, error, warning or
info) and the optional ``timestamp``, ``component``, ``group``, ``class`` and ``custom_details``.
A resolve carries only the routing key, the action and the dedup key. Update events are not sent:
PagerDuty already has the alert, and a second trigger would only add noise to its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from incidents.notify.channels.base import (
    DeliveryResult,
    HttpChannel,
    event_kind,
    post_json,
    target_id_for,
    text_of,
    truncate,
)
from incidents.redact import Redactor

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
SEVERITIES = ("critical", "error", "warning", "info")
MAX_SIGNALS = 25


def dedup_key_of(event: Mapping[str, Any]) -> str:
    """The incident's dedup key (its id when the event has no ``dedup_key``)."""
    key = text_of(event.get("dedup_key")) or text_of(event.get("incident_id"))
    return key[:DEDUP_KEY_LIMIT]


def severity_of(event: Mapping[str, Any]) -> str:
    """The incident's severity when PagerDuty knows it, else ``error``."""
    severity = text_of(event.get("severity")).lower()
    return severity if severity in SEVERITIES else "error"


def trigger_body(routing_key: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The Events API v2 trigger for an open event.

    Examples
    --------
    >>> body = trigger_body("R" * 32, {"incident_id": "inc-1", "dedup_key": "inc-1",
    ...     "model_id": "metrics-v1", "entity": "host-1", "source": "metrics",
    ...     "severity": "critical", "summary": "x" * 2000, "opened_at": "2026-11-27T08:00:40.000Z"})
    >>> body["event_action"], body["dedup_key"], len(body["payload"]["summary"])
    ('trigger', 'inc-1', 1024)
    >>> body["payload"]["source"], body["payload"]["component"], body["payload"]["group"]
    ('host-1', 'metrics-v1', 'metrics')
    """
    signals = list(event.get("signals") or [])
    details: dict[str, Any] = {
        "incident_id": event.get("incident_id"),
        "model_id": event.get("model_id"),
        "model_version": event.get("model_version"),
        "score": event.get("score"),
        "threshold": event.get("threshold"),
        "peak_score": event.get("peak_score", event.get("score")),
        "root_cause": event.get("summary"),
        "signals": signals[:MAX_SIGNALS],
    }
    if len(signals) > MAX_SIGNALS:
        details["signals_omitted"] = len(signals) - MAX_SIGNALS
    details["last_seen"] = event.get("last_seen")
    details = {key: value for key, value in details.items() if value is not None}
    summary = text_of(event.get("summary")) or (
        f"Anomaly on {text_of(event.get('entity'), '?')} ({text_of(event.get('model_id'), '?')})"
    )
    payload: dict[str, Any] = {
        "summary": truncate(summary, SUMMARY_LIMIT),
        "source": text_of(event.get("entity")) or text_of(event.get("model_id"), "anomaly-engine"),
        "severity": severity_of(event),
        "class": "anomaly",
        "custom_details": details,
    }
    if event.get("opened_at"):
        payload["timestamp"] = text_of(event.get("opened_at"))
    if event.get("model_id"):
        payload["component"] = text_of(event.get("model_id"))
    if event.get("source"):
        payload["group"] = text_of(event.get("source"))
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key_of(event),
        "payload": payload,
    }


def resolve_body(routing_key: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The Events API v2 resolve: routing key, action and dedup key only.

    >>> resolve_body("R" * 32, {"incident_id": "inc-1"})["dedup_key"]
    'inc-1'
    """
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key_of(event)}


class PagerDutyChannel(HttpChannel):
    """Pages through one PagerDuty Events API v2 integration (its routing key)."""

    name = "pagerduty"
    sends = ("open", "resolve")

    def __init__(
        self,
        routing_key: str,
        url: str = DEFAULT_URL,
        *,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(redactor or Redactor([routing_key]), clock)
        self._routing_key = routing_key
        self.url = url

    def target_id(self) -> str:
        return target_id_for(self.name, self.url, self._routing_key)

    def body(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The request body for an event this channel sends."""
        if event_kind(event) == "resolve":
            return resolve_body(self._routing_key, event)
        return trigger_body(self._routing_key, event)

    async def send(self, event: Mapping[str, Any], client: httpx.AsyncClient) -> DeliveryResult:
        if not self.wants(event):
            return DeliveryResult.skipped(self.skip_reason(event))
        return await post_json(
            client, self.url, self.body(event), redactor=self._redactor, clock=self._clock
        )
