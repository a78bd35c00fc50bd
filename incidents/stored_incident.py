"""The open incident as an entity's row stores it: :func:`incidents.compact.pack_incident`'s form
with its numbers packed and its signals as lists.

An open incident moves its last-seen time, and often its peak, with every point; its eight
numbers (times, scores, ratios) take about 200 bytes of JSON with their names, 88 as packed
float64 (:mod:`detectors._packed`, exact). A signal that has only the usual fields is stored as
``[feature, value, score, center, spread]``, and its summaries are left out when they are what
those signals say (the root-cause text of one model without correlated partners: about 130
bytes of an incident's 500). Anything else (an integer or missing number, a
signal with more fields) stays as it is, so every incident is stored, and comes back, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from detectors._packed import pack_floats, unpack_floats
from incidents.incident import Signal
from incidents.rootcause import describe

NUMBERS = (
    "ts",
    "score",
    "threshold",
    "peak_score",
    "peak_ratio",
    "published_ratio",
    "last_seen",
    "last_elevated",
)
SIGNAL_ROW = ("feature", "value", "score", "center", "spread")
_PACKED = "f"


def store(incident: dict[str, Any], full: Mapping[str, Any]) -> dict[str, Any]:
    """``incident`` (``full`` packed by ``pack_incident``) with the numbers of ``full`` packed
    when all of them are finite floats, and its usual signals as lists (in place).

    Examples
    --------
    >>> full = {"incident_id": "i", "ts": 60.0, "score": 4.0, "threshold": 3.0,
    ...         "peak_score": 4.0, "peak_ratio": 1.5, "published_ratio": 1.5, "last_seen": 60.0,
    ...         "last_elevated": 60.0, "seq": 0}
    >>> packed = {**full, "signals": [{"feature": "cpu", "value": 9.0, "score": 4.0,
    ...                                "center": 5.0, "spread": 1.0}]}
    >>> stored = store(dict(packed), full)
    >>> stored
    {'incident_id': 'i', 'seq': 0, 'signals': [['cpu', 9.0, 4.0, 5.0, 1.0]], 'f': 'AAAAAAAATkAAAAAAAAAQQAAAAAAAAAhAAAAAAAAAEEAAAAAAAAD4PwAAAAAAAPg/AAAAAAAATkAAAAAAAABOQA=='}
    >>> restored(stored) == packed
    True
    """
    numbers = [full.get(key) for key in NUMBERS]
    packable = True
    for v in numbers:  # a loop, not all() over a generator: once a message while one is open
        if type(v) is not float or not math.isfinite(v):
            packable = False
            break
    if packable:
        for key in NUMBERS:
            incident.pop(key, None)
        incident[_PACKED] = pack_floats(numbers)
    signals = incident.get("signals")
    if isinstance(signals, list):
        incident["signals"] = [
            [s[k] for k in SIGNAL_ROW] if isinstance(s, dict) and tuple(s) == SIGNAL_ROW else s
            for s in signals
        ]
        summaries = incident.get("summaries")
        if summaries is not None and summaries == _summaries(incident):
            del incident["summaries"]
    return incident


def _summaries(incident: Mapping[str, Any]) -> dict[str, str] | None:
    """The summaries of an incident whose only model's summary is what its stored signals say
    (:func:`incidents.rootcause.describe` without partners), when every signal is a list."""
    signals = incident.get("signals")
    model_id = incident.get("model_id")
    if not isinstance(model_id, str) or not isinstance(signals, list):
        return None
    if not all(isinstance(s, list) and len(s) == len(SIGNAL_ROW) for s in signals):
        return None
    return {model_id: describe([Signal(*s) for s in signals])}


def restored(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The incident :func:`store` was given: numbers and signals in ``pack_incident``'s form
    (the numbers all there, its defaults then equal to them). A dict of earlier rows comes back
    as it is."""
    incident = dict(stored)
    text = incident.pop(_PACKED, None)
    if text is not None:
        numbers = unpack_floats("stored incident", text, len(NUMBERS))
        incident.update(zip(NUMBERS, numbers, strict=True))
    if "summaries" not in incident:
        summaries = _summaries(incident)
        if summaries is not None:
            incident["summaries"] = summaries
    signals = incident.get("signals")
    if isinstance(signals, list):
        incident["signals"] = [
            dict(zip(SIGNAL_ROW, s, strict=True)) if isinstance(s, list) else s for s in signals
        ]
    return incident
