"""Generic webhook: the incident event exactly as published on the alerts topic.

The body is the event's JSON, unchanged; ``Content-Type: application/json``; the configured extra
headers (e.g. ``Authorization``); and ``Idempotency-Key: {incident_id}:{event}:{seq}`` (without
``:{seq}`` when the event has none), so a receiver can drop a retried or replayed delivery.
Open and resolve events are sent; updates only with ``include_updates``.
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
)
from incidents.redact import Redactor

# Headers the channel sets itself or that belong to the HTTP connection.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "idempotency-key", "host", "transfer-encoding", "connection"}
)


def idempotency_key(event: Mapping[str, Any]) -> str:
    """``{incident_id}:{event}:{seq}``, or ``{incident_id}:{event}`` without a ``seq``.

    >>> idempotency_key({"incident_id": "inc-1", "event": "update", "seq": 3})
    'inc-1:update:3'
    >>> idempotency_key({"incident_id": "inc-1", "status": "resolved"})
    'inc-1:resolve'
    """
    key = f"{text_of(event.get('incident_id'))}:{event_kind(event)}"
    if event.get("seq") is not None:
        key += f":{text_of(event.get('seq'))}"
    return key


class WebhookChannel(HttpChannel):
    """POSTs incident events to one URL (the URL and the header values are secrets)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        include_updates: bool = False,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        extra = dict(headers or {})
        super().__init__(redactor or Redactor([url, *extra.values()]), clock)
        self._url = url
        self._headers = {k: v for k, v in extra.items() if k.lower() not in RESERVED_HEADERS}
        self.include_updates = include_updates
        self.sends = ("open", "update", "resolve") if include_updates else ("open", "resolve")

    def target_id(self) -> str:
        return target_id_for(self.name, self._url)

    def headers(self, event: Mapping[str, Any]) -> dict[str, str]:
        """The request headers for an event (Content-Type is added when posting)."""
        return {**self._headers, "Idempotency-Key": idempotency_key(event)}

    async def send(self, event: Mapping[str, Any], client: httpx.AsyncClient) -> DeliveryResult:
        if not self.wants(event):
            return DeliveryResult.skipped(self.skip_reason(event))
        return await post_json(
            client,
            self._url,
            dict(event),
            headers=self.headers(event),
            redactor=self._redactor,
            clock=self._clock,
        )
