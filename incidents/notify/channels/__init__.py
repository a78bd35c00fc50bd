"""Alert channels: PagerDuty, Slack, a generic webhook and Alertmanager behind one interface.

Settings are read from a flat mapping of strings (the environment, a ``.env`` file, a settings
object's dump), by these keys; an empty value means "not configured":

=============================  ===============================================================
``pagerduty_routing_key``      Events API v2 integration key (secret)
``pagerduty_url``              default ``https://events.pagerduty.com/v2/enqueue``
``slack_webhook_url``          incoming-webhook URL (secret)
``slack_include_updates``      ``true``/``false`` (default false)
``slack_interval_s``           least seconds between two messages to the webhook (default 1)
``webhook_url``                generic webhook URL (secret)
``webhook_headers``            JSON object of extra headers, e.g. ``{"Authorization": "..."}`` (values secret)
``webhook_include_updates``    ``true``/``false`` (default false)
``alertmanager_url``           Alertmanager base URL, e.g. ``http://127.0.0.1:9093``
``alertmanager_generator_url`` optional ``generatorURL`` of every alert
=============================  ===============================================================

A model configuration names its channels by type (``"pagerduty"``, ``"slack"``, ...);
:func:`select_channels` maps those names to the built channels.

Examples
--------
>>> channels = build_channels({"slack_webhook_url": "https://hooks.example.com/services/T/B/secret",
...                            "alertmanager_url": "http://127.0.0.1:9093"})
>>> sorted(channels)
['alertmanager', 'slack']
>>> "secret" in repr(channels["slack"])
False
>>> channels["slack"].min_interval
1.0
>>> build_channels({"webhook_headers": "[1]", "webhook_url": "https://example.com/x"})
Traceback (most recent call last):
...
incidents.notify.channels.base.ChannelConfigError: webhook_headers must be a JSON object of header names to string values.
>>> build_channels({"slack_interval_s": "-1"})
Traceback (most recent call last):
...
incidents.notify.channels.base.ChannelConfigError: slack_interval_s must be a non-negative number of seconds.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from incidents.notify.channels.alertmanager import AlertmanagerChannel
from incidents.notify.channels.base import (
    Channel,
    ChannelConfigError,
    DeliveryResult,
    classify_response,
    credentials_in,
    event_kind,
    parse_retry_after,
    post_json,
    target_id_for,
)
from incidents.notify.channels.pagerduty import DEFAULT_URL as PAGERDUTY_URL
from incidents.notify.channels.pagerduty import PagerDutyChannel
from incidents.notify.channels.slack import SlackChannel
from incidents.notify.channels.webhook import RESERVED_HEADERS, WebhookChannel
from incidents.redact import Redactor

__all__ = [
    "CHANNEL_TYPES",
    "AlertmanagerChannel",
    "Channel",
    "ChannelConfigError",
    "ChannelSettings",
    "DeliveryResult",
    "PagerDutyChannel",
    "SlackChannel",
    "WebhookChannel",
    "build_channels",
    "classify_response",
    "event_kind",
    "parse_retry_after",
    "post_json",
    "select_channels",
    "target_id_for",
]

CHANNEL_TYPES = ("pagerduty", "slack", "webhook", "alertmanager")

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_AUTH_SCHEMES = ("bearer ", "basic ", "token ", "apikey ")


def _url(settings: Mapping[str, str], key: str) -> str | None:
    value = str(settings.get(key) or "").strip()
    if not value:
        return None
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ChannelConfigError(key, f"{key} must be an http:// or https:// URL with a host.")
    return value


def _flag(settings: Mapping[str, str], key: str) -> bool:
    value = str(settings.get(key) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ChannelConfigError(key, f"{key} must be true or false.")


def _seconds(settings: Mapping[str, Any], key: str, default: float) -> float:
    raw = settings.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not (value >= 0 and value != float("inf")):
        raise ChannelConfigError(key, f"{key} must be a non-negative number of seconds.")
    return value


def _routing_key(settings: Mapping[str, str]) -> str | None:
    value = str(settings.get("pagerduty_routing_key") or "").strip()
    if not value:
        return None
    if not value.isprintable() or any(c.isspace() for c in value) or not value.isascii():
        raise ChannelConfigError(
            "pagerduty_routing_key",
            "pagerduty_routing_key must be the integration key as shown by PagerDuty, "
            "without spaces or control characters.",
        )
    return value


def _headers(settings: Mapping[str, str]) -> dict[str, str]:
    key = "webhook_headers"
    raw = settings.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    problem = f"{key} must be a JSON object of header names to string values."
    if isinstance(raw, Mapping):
        parsed: Any = dict(raw)
    else:
        try:
            parsed = json.loads(raw)
        except (TypeError, ValueError):
            raise ChannelConfigError(key, problem) from None
    if not isinstance(parsed, dict):
        raise ChannelConfigError(key, problem)
    headers: dict[str, str] = {}
    for name, value in parsed.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ChannelConfigError(key, f"{key} has a header name that is not a valid token.")
        if name.lower() in RESERVED_HEADERS:
            raise ChannelConfigError(
                key, f"{key} may not set {name}: the webhook channel sets it itself."
            )
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ChannelConfigError(key, f"{key}[{name!r}] must be a string without line breaks.")
        headers[name] = value
    return headers


def _header_secrets(value: str) -> list[str]:
    """A header value and, for ``Bearer xyz``-style values, the credential alone."""
    found = [value]
    lowered = value.lower()
    for scheme in _AUTH_SCHEMES:
        if lowered.startswith(scheme):
            found.append(value[len(scheme) :].strip())
    return found


@dataclass(frozen=True)
class ChannelSettings:
    """The parsed channel settings. Secret fields are left out of ``repr``."""

    pagerduty_routing_key: str | None = field(default=None, repr=False)
    pagerduty_url: str = PAGERDUTY_URL
    slack_webhook_url: str | None = field(default=None, repr=False)
    slack_include_updates: bool = False
    slack_interval_s: float = 1.0
    webhook_url: str | None = field(default=None, repr=False)
    webhook_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    webhook_include_updates: bool = False
    alertmanager_url: str | None = field(default=None, repr=False)
    alertmanager_generator_url: str | None = None

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> ChannelSettings:
        """Parse and check settings; raises :class:`ChannelConfigError` naming the bad key."""
        lowered = {str(k).lower(): v for k, v in settings.items()}
        return cls(
            pagerduty_routing_key=_routing_key(lowered),
            pagerduty_url=_url(lowered, "pagerduty_url") or PAGERDUTY_URL,
            slack_webhook_url=_url(lowered, "slack_webhook_url"),
            slack_include_updates=_flag(lowered, "slack_include_updates"),
            slack_interval_s=_seconds(lowered, "slack_interval_s", 1.0),
            webhook_url=_url(lowered, "webhook_url"),
            webhook_headers=_headers(lowered),
            webhook_include_updates=_flag(lowered, "webhook_include_updates"),
            alertmanager_url=_url(lowered, "alertmanager_url"),
            alertmanager_generator_url=_url(lowered, "alertmanager_generator_url"),
        )

    def secrets(self) -> list[str]:
        """Every configured value that must never appear in a log line or an error."""
        found: list[str] = []
        if self.pagerduty_routing_key:
            found.append(self.pagerduty_routing_key)
        for url in (self.slack_webhook_url, self.webhook_url):
            if url:
                found.append(url)
        for value in self.webhook_headers.values():
            found.extend(_header_secrets(value))
        for url in (self.pagerduty_url, self.alertmanager_url, self.alertmanager_generator_url):
            if url:
                found.extend(credentials_in(url))
        return found

    def redactor(self) -> Redactor:
        """A redactor for all of :meth:`secrets` (use it for the log filter too)."""
        return Redactor(self.secrets())

    def configured(self) -> list[str]:
        """The channel types that have what they need."""
        present = {
            "pagerduty": self.pagerduty_routing_key,
            "slack": self.slack_webhook_url,
            "webhook": self.webhook_url,
            "alertmanager": self.alertmanager_url,
        }
        return [name for name in CHANNEL_TYPES if present[name]]


def build_channels(
    settings: Mapping[str, Any] | ChannelSettings,
    *,
    redactor: Redactor | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Channel]:
    """The configured channels by type. Every channel redacts every configured secret."""
    parsed = (
        settings
        if isinstance(settings, ChannelSettings)
        else ChannelSettings.from_mapping(settings)
    )
    shared = redactor or parsed.redactor()
    channels: dict[str, Channel] = {}
    if parsed.pagerduty_routing_key:
        channels["pagerduty"] = PagerDutyChannel(
            parsed.pagerduty_routing_key, parsed.pagerduty_url, redactor=shared, clock=clock
        )
    if parsed.slack_webhook_url:
        channels["slack"] = SlackChannel(
            parsed.slack_webhook_url,
            include_updates=parsed.slack_include_updates,
            min_interval=parsed.slack_interval_s,
            redactor=shared,
            clock=clock,
        )
    if parsed.webhook_url:
        channels["webhook"] = WebhookChannel(
            parsed.webhook_url,
            parsed.webhook_headers,
            include_updates=parsed.webhook_include_updates,
            redactor=shared,
            clock=clock,
        )
    if parsed.alertmanager_url:
        channels["alertmanager"] = AlertmanagerChannel(
            parsed.alertmanager_url,
            generator_url=parsed.alertmanager_generator_url,
            redactor=shared,
            clock=clock,
        )
    return channels


def select_channels(
    names: Iterable[str], channels: Mapping[str, Channel]
) -> tuple[list[Channel], list[str]]:
    """The channels a model configuration names, and the names that are not configured.

    >>> chans = build_channels({"alertmanager_url": "http://127.0.0.1:9093"})
    >>> found, missing = select_channels(["alertmanager", "slack", "alertmanager"], chans)
    >>> [c.name for c in found], missing
    (['alertmanager'], ['slack'])
    """
    found: list[Channel] = []
    missing: list[str] = []
    for name in dict.fromkeys(names):
        if name in channels:
            found.append(channels[name])
        else:
            missing.append(name)
    return found, missing
