"""The fields a log line about an incident event or a dead letter may carry.

Any log call may pass them with ``extra=log_context(document, ...)``; the worker's JSON and text
formatters (``app.worker.logformat``) write them after the message, in this order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields a log call may carry (``extra=``); a JSON line has those given, in this order.
CONTEXT_FIELDS = (
    "incident_id",
    "model_id",
    "entity",
    "event",
    "severity",
    "channel",
    "topic",
    "partition",
    "offset",
)


def log_context(document: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    """The :data:`CONTEXT_FIELDS` of ``document`` (an incident event, a DLQ record) and ``more``,
    for a log call's ``extra=``; missing and None values are left out.

    >>> log_context({"incident_id": "inc-1", "summary": "x", "entity": None}, channel="slack")
    {'incident_id': 'inc-1', 'channel': 'slack'}
    """
    found = {name: document[name] for name in CONTEXT_FIELDS if document.get(name) is not None}
    found.update({name: value for name, value in more.items() if value is not None})
    return found
