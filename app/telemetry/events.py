"""Log and behaviour events as the engine reads them from a Kafka message: one event, or
``{"entity", "events": [...]}`` (see :func:`decode_log_events`, :func:`decode_behavior_events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.telemetry.messages import _check_size, _entity
from incidents.behavior import BehaviorEvent
from incidents.logs import LogEvent
from incidents.points import TelemetryError, parse_ts


def _optional_text(payload: Mapping[str, Any], name: str, where: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TelemetryError(f"{where}{name} must be a string, got {value!r}")
    return value


def _attributes(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    attributes = payload.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise TelemetryError(f"{where}attributes must be an object")
    for key, value in attributes.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, str | int | float)
        ):
            raise TelemetryError(f"{where}attributes.{key} must be a string or a number")
    return dict(attributes)


def _events(payload: Mapping[str, Any], max_events: int) -> list[tuple[str, Mapping[str, Any]]]:
    """The events of a message, each with the prefix that names it in errors."""
    if "events" in payload:
        events = payload["events"]
        if not isinstance(events, list) or not events:
            raise TelemetryError("events must be a non-empty list of event objects")
        _check_size(len(events), max_events)
        listed = []
        for i, event in enumerate(events):
            if not isinstance(event, Mapping):
                raise TelemetryError(f"events[{i}] must be an object")
            listed.append((f"events[{i}].", event))
        return listed
    return [("", payload)]


def event_ids(payload: object) -> tuple[str, str | None]:
    """(entity, model_id or None) of a log or behaviour message."""
    if not isinstance(payload, Mapping):
        raise TelemetryError(
            f"a telemetry message must be a JSON object, got {type(payload).__name__}"
        )
    model_id = payload.get("model_id")
    if model_id is not None and (not isinstance(model_id, str) or not model_id):
        raise TelemetryError(f"model_id must be a non-empty string, got {model_id!r}")
    return _entity(payload), model_id


def decode_log_events(payload: Mapping[str, Any], max_events: int) -> list[LogEvent]:
    """Log events of a message: one ``{"entity", "ts", "level", "message", "attributes"}`` or
    ``{"entity", "events": [{"ts", "level", "message"}, ...]}``.

    Examples
    --------
    >>> decode_log_events({"entity": "api-1", "ts": 0, "level": "error", "message": "boom"}, 10)
    [LogEvent(ts=0.0, level='error', message='boom')]
    """
    decoded = []
    for where, event in _events(payload, max_events):
        message = event.get("message")
        if not isinstance(message, str):
            raise TelemetryError(f"{where}message must be a string, got {message!r}")
        _attributes(event, where)
        decoded.append(
            LogEvent(
                ts=parse_ts(event.get("ts"), f"{where}ts"),
                level=_optional_text(event, "level", where),
                message=message,
            )
        )
    return decoded


def decode_behavior_events(payload: Mapping[str, Any], max_events: int) -> list[BehaviorEvent]:
    """Behaviour events of a message: one ``{"entity", "ts", "action", "target", "attributes"}``
    or ``{"entity", "events": [...]}``.

    Examples
    --------
    >>> decode_behavior_events({"entity": "u", "ts": 0, "action": "login",
    ...                         "attributes": {"country": "FR"}}, 10)
    [BehaviorEvent(ts=0.0, action='login', target=None, attributes={'country': 'FR'})]
    """
    decoded = []
    for where, event in _events(payload, max_events):
        action = event.get("action")
        if not isinstance(action, str) or not action:
            raise TelemetryError(f"{where}action must be a non-empty string, got {action!r}")
        decoded.append(
            BehaviorEvent(
                ts=parse_ts(event.get("ts"), f"{where}ts"),
                action=action,
                target=_optional_text(event, "target", where),
                attributes=_attributes(event, where),
            )
        )
    return decoded
