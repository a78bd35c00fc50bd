"""Silences and maintenance windows: which incidents are recorded but not delivered.

A :class:`Silence` has matchers, a start and an end, and optionally a recurring window.

**Matchers** are a mapping from ``model_id``, ``entity``, ``source`` or ``severity`` to a value.
All of them must match (AND). A value is either

- an exact string: ``{"entity": "host-1"}``; or
- a regular expression written with a leading ``~``: ``{"entity": "~host-[0-9]+"}``. It must
  match the *whole* value (``re.fullmatch``), is at most
  :data:`~incidents.silence_matchers.MAX_REGEX_LENGTH` characters, and may not repeat a group
  that itself repeats (``(a+)+``, ``(a|b*)*``): such nested quantifiers can take exponential
  time, so they are refused. To match a value that starts with ``~`` literally, escape it in a
  regex: ``~\\~tilde``.

An incident without the key matches as the empty string (as Alertmanager treats a missing
label). A key whose value is a list (e.g. several sources of a grouped incident) matches when
any element matches. At least one matcher is required: a silence of everything is a mistake
more often than a wish.

**Time.** The silence is active from ``starts_at`` (inclusive) to ``ends_at`` (exclusive), epoch
seconds, judged at the incident's *event* time. With a **recurrence** it is active only inside
that range *and* inside the recurring window:

- ``{"kind": "daily", "start": "22:00", "end": "06:00", "timezone": "Europe/Paris"}``
- ``{"kind": "weekly", "days": ["sat", "sun"], "start": "00:00", "end": "24:00", "timezone": "UTC"}``

Times are wall-clock ``HH:MM`` in the named IANA zone (``zoneinfo``), so a 09:00 window is
09:00 local in winter and in summer. The start is inclusive, the end exclusive; ``24:00`` ends at
midnight. A window whose end is before its start crosses midnight; for a weekly one, ``days``
are the days the window *starts* (``fri`` 22:00–02:00 covers Saturday 01:00). On a DST change a
window keeps its wall-clock bounds: a 02:00–03:00 window does not happen on the spring-forward
night and lasts two hours on the fall-back night.

Errors are :class:`~incidents.silence_matchers.SilenceError` (a ``ValueError``) with a sentence
that names the field. The matchers, their regex checks and the error live in
:mod:`incidents.silence_matchers`; a silence's time range and recurring window here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incidents.silence_matchers import MATCHER_KEYS, Matcher, SilenceError

MAX_TEXT_LENGTH = 2048
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


def _parse_hhmm(value: Any, where: str, allow_24: bool) -> dtime | None:
    """A ``HH:MM`` wall time; ``24:00`` (end of day) is returned as None."""
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise SilenceError(
            where, f"{where} must be a time as HH:MM (00:00 to 23:59), got {value!r}."
        )
    if value == "24:00":
        if not allow_24:
            raise SilenceError(where, f"{where} may not be 24:00; a window starts at 00:00.")
        return None
    hours, minutes = value.split(":")
    return dtime(int(hours), int(minutes))


@dataclass(frozen=True)
class Recurrence:
    """A daily or weekly wall-clock window in a time zone."""

    kind: str
    start: str
    end: str
    timezone: str = "UTC"
    days: tuple[str, ...] = ()
    _start: dtime = field(init=False, repr=False, compare=False, default=dtime(0))
    _end: dtime | None = field(init=False, repr=False, compare=False, default=None)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, default=ZoneInfo("UTC"))

    def __post_init__(self) -> None:
        if self.kind not in ("daily", "weekly"):
            raise SilenceError(
                "recurrence.kind", f"recurrence.kind must be daily or weekly, got {self.kind!r}."
            )
        start = _parse_hhmm(self.start, "recurrence.start", allow_24=False)
        end = _parse_hhmm(self.end, "recurrence.end", allow_24=True)
        if start == end:
            raise SilenceError(
                "recurrence.end",
                "recurrence.end must differ from recurrence.start; for a whole day use 00:00 to 24:00.",
            )
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise SilenceError(
                "recurrence.timezone",
                f"recurrence.timezone must be UTC or an IANA time zone name such as "
                f"Europe/Paris, got {self.timezone!r}.",
            ) from None
        days = self.days
        if self.kind == "weekly":
            if not days:
                raise SilenceError(
                    "recurrence.days",
                    "recurrence.days must name at least one day for a weekly window.",
                )
            normalized = []
            for day in days:
                name = str(day).strip().lower()
                if name in _FULL_DAYS:
                    name = DAYS[_FULL_DAYS.index(name)]
                if name not in DAYS:
                    raise SilenceError(
                        "recurrence.days",
                        f"recurrence.days must be days as {', '.join(DAYS)}, got {day!r}.",
                    )
                normalized.append(name)
            days = tuple(sorted(set(normalized), key=DAYS.index))
        elif days:
            raise SilenceError(
                "recurrence.days", "recurrence.days is only for a weekly window; remove it."
            )
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "_start", start)
        object.__setattr__(self, "_end", end)
        object.__setattr__(self, "_zone", zone)

    @classmethod
    def from_dict(cls, data: Any) -> Recurrence:
        if not isinstance(data, Mapping):
            raise SilenceError(
                "recurrence", "recurrence must be an object with kind, start and end."
            )
        for key in ("kind", "start", "end"):
            if key not in data:
                raise SilenceError(f"recurrence.{key}", f"recurrence.{key} is required.")
        unknown = set(data) - {"kind", "start", "end", "timezone", "days"}
        if unknown:
            name = sorted(map(str, unknown))[0]
            raise SilenceError(f"recurrence.{name}", f"recurrence.{name} is not a known field.")
        days = data.get("days") or ()
        if isinstance(days, str) or not isinstance(days, Iterable):
            raise SilenceError("recurrence.days", "recurrence.days must be a list of days.")
        timezone = data.get("timezone") or "UTC"
        if not isinstance(timezone, str):
            raise SilenceError("recurrence.timezone", "recurrence.timezone must be a string.")
        return cls(
            kind=str(data["kind"]),
            start=data["start"],
            end=data["end"],
            timezone=timezone,
            days=tuple(days),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "weekly":
            data["days"] = list(self.days)
        data.update(start=self.start, end=self.end, timezone=self.timezone)
        return data

    def contains(self, at: float) -> bool:
        """Whether epoch time ``at`` is inside a window.

        >>> r = Recurrence("daily", "22:00", "06:00", "UTC")
        >>> [r.contains(h * 3600.0) for h in (21, 22, 23, 24 + 5, 24 + 6)]
        [False, True, True, True, False]
        """
        start, end = self._start, self._end
        local = datetime.fromtimestamp(at, self._zone)
        wall = local.time().replace(tzinfo=None)
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        if end is None or start < end:  # within one day
            inside = wall >= start and (end is None or wall < end)
            return inside and self._on(today)
        # Crosses midnight: the evening part belongs to today, the morning part to yesterday.
        if wall >= start:
            return self._on(today)
        if wall < end:
            return self._on(yesterday)
        return False

    def _on(self, day: str) -> bool:
        return self.kind == "daily" or day in self.days


def _epoch(value: Any, where: str) -> float:
    """Epoch seconds from a number or an ISO-8601 string (UTC when it has no offset)."""
    if isinstance(value, bool):
        raise SilenceError(where, f"{where} must be an ISO-8601 time or epoch seconds.")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise SilenceError(
                where, f"{where} must be an ISO-8601 time or epoch seconds, got {value!r}."
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    else:
        raise SilenceError(where, f"{where} must be an ISO-8601 time or epoch seconds.")
    if not math.isfinite(seconds):
        raise SilenceError(where, f"{where} must be a finite time.")
    try:
        _iso(seconds)
    except OverflowError:
        raise SilenceError(
            where, f"{where} must fall between the years 1 and 9999, got {value!r}."
        ) from None
    return seconds


def _iso(seconds: float) -> str:
    when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Silence:
    """Incidents matching ``matchers`` at an event time inside the silence are not delivered.

    Examples
    --------
    >>> s = Silence("sil-1", {"entity": "~host-[12]", "severity": "warning"},
    ...             starts_at=1000.0, ends_at=2000.0)
    >>> s.matches({"entity": "host-1", "severity": "warning"}, at=1000.0)
    True
    >>> s.matches({"entity": "host-1", "severity": "warning"}, at=2000.0)
    False
    >>> s.matches({"entity": "host-10", "severity": "warning"}, at=1500.0)
    False
    >>> Silence("sil-2", {"entity": "~(a+)+$"}, starts_at=0, ends_at=1)
    Traceback (most recent call last):
    ...
    incidents.silence_matchers.SilenceError: matchers.entity repeats a group that itself repeats, which can take exponential time; rewrite it without nested quantifiers.
    """

    id: str
    matchers: Mapping[str, str]
    starts_at: float
    ends_at: float
    recurrence: Recurrence | Mapping[str, Any] | None = None
    comment: str = ""
    created_by: str = ""
    _parsed: tuple[Matcher, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip() or len(self.id) > 128:
            raise SilenceError("id", "id must be a non-empty string of at most 128 characters.")
        if not isinstance(self.matchers, Mapping) or not self.matchers:
            raise SilenceError(
                "matchers",
                f"matchers must map at least one of {', '.join(MATCHER_KEYS)} to a value.",
            )
        parsed = tuple(Matcher.parse(str(k), v) for k, v in self.matchers.items())
        starts_at = _epoch(self.starts_at, "starts_at")
        ends_at = _epoch(self.ends_at, "ends_at")
        if ends_at <= starts_at:
            raise SilenceError("ends_at", "ends_at must be after starts_at.")
        recurrence = self.recurrence
        if recurrence is not None and not isinstance(recurrence, Recurrence):
            recurrence = Recurrence.from_dict(recurrence)
        for name in ("comment", "created_by"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
                raise SilenceError(
                    name, f"{name} must be a string of at most {MAX_TEXT_LENGTH} characters."
                )
        object.__setattr__(self, "matchers", {m.key: m.value for m in parsed})
        object.__setattr__(self, "starts_at", starts_at)
        object.__setattr__(self, "ends_at", ends_at)
        object.__setattr__(self, "recurrence", recurrence)
        object.__setattr__(self, "_parsed", parsed)

    def active(self, at: float) -> bool:
        """Whether the silence applies at epoch time ``at`` (start inclusive, end exclusive)."""
        if not self.starts_at <= at < self.ends_at:
            return False
        recurrence = self.recurrence
        return recurrence is None or (
            isinstance(recurrence, Recurrence) and recurrence.contains(at)
        )

    def matches(self, incident: Mapping[str, Any], at: float) -> bool:
        """Whether this silence silences ``incident`` at its event time ``at``."""
        return self.active(at) and all(m.matches(incident) for m in self._parsed)

    def expired(self, at: float) -> bool:
        """Whether the silence can no longer apply at or after ``at``."""
        return at >= self.ends_at

    def to_dict(self) -> dict[str, Any]:
        """JSON form; times as ISO-8601 UTC with milliseconds."""
        recurrence = self.recurrence
        return {
            "id": self.id,
            "matchers": dict(self.matchers),
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "recurrence": recurrence.to_dict() if isinstance(recurrence, Recurrence) else None,
            "comment": self.comment,
            "created_by": self.created_by,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Silence:
        """Parse the JSON form (times as ISO-8601 or epoch seconds); raises SilenceError."""
        if not isinstance(data, Mapping):
            raise SilenceError("silence", "a silence must be a JSON object.")
        for key in ("id", "matchers", "starts_at", "ends_at"):
            if data.get(key) is None:
                raise SilenceError(key, f"{key} is required.")
        known = {"id", "matchers", "starts_at", "ends_at", "recurrence", "comment", "created_by"}
        unknown = sorted(map(str, set(data) - known))
        if unknown:
            raise SilenceError(unknown[0], f"{unknown[0]} is not a field of a silence.")
        return cls(
            id=data["id"],
            matchers=data["matchers"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            recurrence=data.get("recurrence"),
            comment=data.get("comment") or "",
            created_by=data.get("created_by") or "",
        )


def first_matching(
    silences: Iterable[Silence], incident: Mapping[str, Any], at: float
) -> Silence | None:
    """The first silence (in the given order) that silences ``incident`` at ``at``, or None.

    >>> s = Silence("sil-1", {"model_id": "metrics-v1"}, starts_at=0.0, ends_at=10.0)
    >>> first_matching([s], {"model_id": "metrics-v1"}, at=5.0).id
    'sil-1'
    >>> first_matching([s], {"model_id": "metrics-v2"}, at=5.0) is None
    True
    """
    for silence in silences:
        if silence.matches(incident, at):
            return silence
    return None
