"""Which incidents a silence matches: its matchers (an exact value or a ``~`` regex that must match
the whole value; see :mod:`incidents.silences`), the check that refuses a regex with nested
quantifiers, and :class:`SilenceError`, the error every part of a silence raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MATCHER_KEYS = ("model_id", "entity", "source", "severity")
MAX_REGEX_LENGTH = 256
MAX_VALUE_LENGTH = 1024
_REPEAT_BRACE = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _repeats(regex: str, i: int) -> bool:
    """Whether a repeating quantifier (``*``, ``+``, ``{m,}``, ``{m,n}`` with n > 1) is at ``i``."""
    if i >= len(regex):
        return False
    if regex[i] in "*+":
        return True
    brace = _REPEAT_BRACE.match(regex, i)
    if regex[i] != "{" or brace is None:
        return False
    low, comma, high = brace.groups()
    return bool(comma) or (low.isdigit() and int(low) > 1)


def nested_quantifier(regex: str) -> bool:
    """Whether a group holding a quantifier is itself repeated, e.g. ``(a+)+`` or ``((a*)b)*``.

    Such patterns can backtrack exponentially. Overlapping alternatives such as ``(a|aa)+`` are
    not detected; the length limit bounds what they can cost.

    >>> [nested_quantifier(r) for r in ("(a+)+", "((a*)b){2,}", "(?:x?)*", "([+-]x)+", "host-[0-9]+")]
    [True, True, True, False, False]
    """
    holds = [False]  # per open group: whether it holds a quantifier
    i, n = 0, len(regex)
    while i < n:
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # skip a character class: quantifier characters inside it are literals
            j = i + 1
            if j < n and regex[j] == "^":
                j += 1
            if j < n and regex[j] == "]":
                j += 1
            while j < n and regex[j] != "]":
                j += 2 if regex[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            holds.append(False)
        elif c == ")":
            inner = holds.pop() if len(holds) > 1 else False
            repeated = _repeats(regex, i + 1)
            if inner and repeated:
                return True
            holds[-1] = holds[-1] or inner or repeated
        elif (c in "*+?" and regex[i - 1 : i] != "(") or (c == "{" and _repeats(regex, i)):
            holds[-1] = True
        i += 1
    return False


class SilenceError(ValueError):
    """An invalid silence; the message is a sentence naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Matcher:
    """One key's condition: an exact value or an anchored regex (from ``~regex``)."""

    key: str
    value: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, key: str, value: Any) -> Matcher:
        where = f"matchers.{key}"
        if key not in MATCHER_KEYS:
            raise SilenceError(
                where, f"{where} is not a matcher key; use {', '.join(MATCHER_KEYS)}."
            )
        if not isinstance(value, str):
            raise SilenceError(where, f"{where} must be a string, got {type(value).__name__}.")
        if len(value) > MAX_VALUE_LENGTH:
            raise SilenceError(where, f"{where} is longer than {MAX_VALUE_LENGTH} characters.")
        if not value.startswith("~"):
            return cls(key, value)
        regex = value[1:]
        if len(regex) > MAX_REGEX_LENGTH:
            raise SilenceError(
                where, f"{where} is a regex longer than {MAX_REGEX_LENGTH} characters."
            )
        if nested_quantifier(regex):
            raise SilenceError(
                where,
                f"{where} repeats a group that itself repeats, which can take exponential time; "
                "rewrite it without nested quantifiers.",
            )
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise SilenceError(where, f"{where} is not a valid regex: {exc}.") from None
        return cls(key, value, pattern)

    def matches_value(self, value: str) -> bool:
        if self.pattern is not None:
            return self.pattern.fullmatch(value) is not None
        return value == self.value

    def matches(self, incident: Mapping[str, Any]) -> bool:
        value = incident.get(self.key)
        if isinstance(value, list | tuple):
            return any(self.matches_value(_text(v)) for v in value)
        return self.matches_value(_text(value))


def _text(value: Any) -> str:
    return "" if value is None else str(value)
