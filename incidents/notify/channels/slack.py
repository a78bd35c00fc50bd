"""Slack incoming webhook: a one-line ``text`` fallback plus Block Kit ``blocks``.

An open event becomes a header (severity and where), a section of fields (model, entity,
severity, score against threshold, opened at, source), a section with the root-cause sentence
and the strongest signals, and a context line with the incident id. A resolve event is a green
"Resolved" message for the same incident. Updates are skipped unless ``include_updates``.

Slack's limits are kept: a header's text at most 150 characters, a section's text at most 3000,
at most 10 fields of at most 2000 characters each. Text from the incident is escaped (``&``,
``<``, ``>``), so an entity named ``<!channel>`` cannot notify a whole channel.
"""

from __future__ import annotations

import math
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

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
TEXT_LIMIT = 3000
MAX_SIGNAL_LINES = 5

SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "error": ":large_orange_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
}
RESOLVED_EMOJI = ":large_green_circle:"
UPDATE_EMOJI = ":arrows_counterclockwise:"


def escape(text: str) -> str:
    """Escape Slack's control characters.

    >>> escape("<!channel> & co")
    '&lt;!channel&gt; &amp; co'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(escaped: str, limit: int) -> str:
    """Cut escaped text to ``limit`` characters without splitting an ``&amp;``-style entity.

    >>> fit("a &amp; b", 5)
    'a …'
    """
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def number(value: Any) -> str:
    """A score for people: 4 significant digits, ``n/a`` when missing.

    >>> number(12.0), number(1.5), number(160.257), number(None)
    ('12', '1.5', '160.3', 'n/a')
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _where(event: Mapping[str, Any]) -> str:
    return f"{text_of(event.get('model_id'), '?')} on {text_of(event.get('entity'), '?')}"


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": fit(f"*{label}*\n{escape(value)}", FIELD_LIMIT)}


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, HEADER_LIMIT), "emoji": True},
    }


def _signal_lines(event: Mapping[str, Any]) -> list[str]:
    lines = []
    for signal in list(event.get("signals") or [])[:MAX_SIGNAL_LINES]:
        if not isinstance(signal, Mapping):
            continue
        name = text_of(signal.get("feature") or signal.get("signal"), "signal")
        line = f"• {name}: {number(signal.get('value'))} (score {number(signal.get('score'))}"
        if signal.get("center") is not None:
            line += f", baseline {number(signal.get('center'))}±{number(signal.get('spread'))}"
        lines.append(line + ")")
    return lines


def _context(event: Mapping[str, Any]) -> dict[str, Any]:
    text = f"Incident `{text_of(event.get('incident_id'), '?')}`"
    if event.get("model_version") is not None:
        text += f" · model version {text_of(event.get('model_version'))}"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(escape(text), 3000)}]}


def message(event: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook body for an event.

    Examples
    --------
    >>> msg = message({"event": "open", "model_id": "metrics-v1", "entity": "host-1",
    ...     "severity": "critical", "score": 12.0, "threshold": 1.5,
    ...     "summary": "metrics-v1 on host-1: feature_0 12.0σ above baseline (160 vs 100±5)",
    ...     "incident_id": "inc-1", "opened_at": "2026-11-27T08:00:40.000Z"})
    >>> msg["text"]
    ':red_circle: [CRITICAL] metrics-v1 on host-1: feature_0 12.0σ above baseline (160 vs 100±5)'
    >>> [block["type"] for block in msg["blocks"]]
    ['header', 'section', 'section', 'context']
    >>> message({"event": "resolve", "model_id": "m", "entity": "e"})["text"]
    ':large_green_circle: [RESOLVED] m on e'
    """
    kind = event_kind(event)
    severity = text_of(event.get("severity"), "warning").lower()
    summary = text_of(event.get("summary"))
    where = _where(event)
    if kind == "resolve":
        emoji, tag, title = RESOLVED_EMOJI, "RESOLVED", f"Resolved: {where}"
        text = f"{emoji} [{tag}] {where}"
    else:
        emoji = UPDATE_EMOJI if kind == "update" else SEVERITY_EMOJI.get(severity, ":warning:")
        tag = "UPDATE" if kind == "update" else severity.upper()
        title = f"{severity.upper()}: {where}" if kind == "open" else f"Update: {where}"
        text = f"{emoji} [{tag}] {summary or where}"
    fields = [
        _field("Model", text_of(event.get("model_id"), "?")),
        _field("Entity", text_of(event.get("entity"), "?")),
        _field("Severity", severity),
        _field(
            "Score / threshold",
            f"{number(event.get('score'))} / {number(event.get('threshold'))}"
            + (
                f" (peak {number(event.get('peak_score'))})"
                if event.get("peak_score") is not None
                else ""
            ),
        ),
        _field("Opened", text_of(event.get("opened_at"), "?")),
    ]
    if kind == "resolve":
        fields.append(_field("Resolved", text_of(event.get("resolved_at"), "?")))
    if event.get("source"):
        fields.append(_field("Source", text_of(event.get("source"))))
    if kind == "update" and event.get("last_seen") is not None:
        fields.append(_field("Last seen", text_of(event.get("last_seen"))))
    cause_title = "*Was*" if kind == "resolve" else "*Root cause*"
    cause = "\n".join([escape(summary or "no root-cause text"), *map(escape, _signal_lines(event))])
    blocks = [
        _header(f"{emoji} {title}"),
        {"type": "section", "fields": fields[:MAX_FIELDS]},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": fit(f"{cause_title}\n{cause}", SECTION_LIMIT)},
        },
        _context(event),
    ]
    return {"text": fit(escape(text), TEXT_LIMIT), "blocks": blocks}


class SlackChannel(HttpChannel):
    """Posts to one Slack incoming webhook (its URL is the secret).

    Slack accepts about one message a second per incoming webhook ("Rate limits", Slack API
    docs), so ``min_interval`` defaults to 1 s: the dispatcher spaces its requests that far.
    """

    name = "slack"

    def __init__(
        self,
        webhook_url: str,
        *,
        include_updates: bool = False,
        min_interval: float = 1.0,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(redactor or Redactor([webhook_url]), clock)
        if not min_interval >= 0:
            raise ValueError(
                f"min_interval must be a non-negative number of seconds, got {min_interval}"
            )
        self.min_interval = float(min_interval)
        self._url = webhook_url
        self.include_updates = include_updates
        self.sends = ("open", "update", "resolve") if include_updates else ("open", "resolve")

    def target_id(self) -> str:
        return target_id_for(self.name, self._url)

    def body(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return message(event)

    async def send(self, event: Mapping[str, Any], client: httpx.AsyncClient) -> DeliveryResult:
        if not self.wants(event):
            return DeliveryResult.skipped(self.skip_reason(event))
        return await post_json(
            client, self._url, self.body(event), redactor=self._redactor, clock=self._clock
        )
