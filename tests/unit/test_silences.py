"""Silence matching at event time: matchers, time bounds, daily/weekly windows, DST, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incidents.silence_matchers import SilenceError
from incidents.silences import Silence, first_matching

INCIDENT = {
    "model_id": "metrics-v1",
    "entity": "host-1",
    "source": "metrics",
    "severity": "warning",
}


def ts(text: str) -> float:
    """Epoch seconds of an ISO time (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


ALWAYS = (ts("2000-01-01T00:00:00"), ts("2100-01-01T00:00:00"))


def silence(matchers: dict[str, str], recurrence: Any = None, **kw: Any) -> Silence:
    starts, ends = kw.pop("span", ALWAYS)
    return Silence("sil-1", matchers, starts_at=starts, ends_at=ends, recurrence=recurrence, **kw)


# -- matchers --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["model_id", "entity", "source", "severity"])
def test_exact_matcher_on_every_key(key: str) -> None:
    at = ts("2026-11-27T08:00:00")
    assert silence({key: INCIDENT[key]}).matches(INCIDENT, at)
    assert not silence({key: INCIDENT[key] + "x"}).matches(INCIDENT, at)
    assert not silence({key: INCIDENT[key].upper()}).matches(INCIDENT, at)


@pytest.mark.parametrize(
    ("key", "regex"),
    [
        ("model_id", "~metrics-v[0-9]+"),
        ("entity", "~host-.*"),
        ("source", "~metrics|logs"),
        ("severity", "~warning|info"),
    ],
)
def test_regex_matcher_on_every_key(key: str, regex: str) -> None:
    at = ts("2026-11-27T08:00:00")
    assert silence({key: regex}).matches(INCIDENT, at)
    assert not silence({key: regex}).matches({**INCIDENT, key: "other"}, at)


def test_regex_must_match_the_whole_value() -> None:
    at = ts("2026-11-27T08:00:00")
    s = silence({"entity": "~host-1"})
    assert s.matches({**INCIDENT, "entity": "host-1"}, at)
    assert not s.matches({**INCIDENT, "entity": "host-10"}, at)
    assert not s.matches({**INCIDENT, "entity": "db-host-1"}, at)
    # A plain value that looks like a regex is taken literally.
    assert not silence({"entity": "host-.*"}).matches(INCIDENT, at)
    assert silence({"entity": "host-.*"}).matches({**INCIDENT, "entity": "host-.*"}, at)


def test_all_matchers_must_match() -> None:
    at = ts("2026-11-27T08:00:00")
    s = silence({"model_id": "metrics-v1", "severity": "critical"})
    assert not s.matches(INCIDENT, at)
    assert s.matches({**INCIDENT, "severity": "critical"}, at)


def test_missing_key_matches_as_empty_and_list_values_match_any_element() -> None:
    at = ts("2026-11-27T08:00:00")
    without_source = {k: v for k, v in INCIDENT.items() if k != "source"}
    assert not silence({"source": "metrics"}).matches(without_source, at)
    assert silence({"source": "~(metrics)?"}).matches(without_source, at)
    grouped = {**INCIDENT, "source": ["metrics", "logs"]}
    assert silence({"source": "logs"}).matches(grouped, at)
    assert not silence({"source": "behavior"}).matches(grouped, at)


# -- time bounds -----------------------------------------------------------------------------


def test_start_is_inclusive_and_end_exclusive() -> None:
    start, end = ts("2026-11-27T08:00:00"), ts("2026-11-27T09:00:00")
    s = silence({"entity": "host-1"}, span=(start, end))
    assert not s.matches(INCIDENT, start - 0.001)
    assert s.matches(INCIDENT, start)
    assert s.matches(INCIDENT, end - 0.001)
    assert not s.matches(INCIDENT, end)
    assert s.active(start) and not s.active(end)


def test_recurring_window_applies_only_inside_the_overall_span() -> None:
    daily = {"kind": "daily", "start": "00:00", "end": "24:00", "timezone": "UTC"}
    s = silence(
        {"entity": "host-1"},
        daily,
        span=(ts("2026-11-27T00:00:00"), ts("2026-11-28T00:00:00")),
    )
    assert s.matches(INCIDENT, ts("2026-11-27T12:00:00"))
    assert not s.matches(INCIDENT, ts("2026-11-28T12:00:00"))
    assert not s.matches(INCIDENT, ts("2026-11-26T12:00:00"))


# -- recurrences -----------------------------------------------------------------------------


def test_daily_window_across_midnight() -> None:
    s = silence({"entity": "host-1"}, {"kind": "daily", "start": "22:00", "end": "06:00"})
    inside = [
        "2026-11-27T22:00:00",
        "2026-11-27T23:59:59",
        "2026-11-28T00:00:00",
        "2026-11-28T05:59:59",
    ]
    outside = ["2026-11-27T21:59:59", "2026-11-28T06:00:00", "2026-11-28T12:00:00"]
    assert all(s.matches(INCIDENT, ts(t)) for t in inside)
    assert not any(s.matches(INCIDENT, ts(t)) for t in outside)


def test_daily_window_within_a_day_in_a_time_zone() -> None:
    window = {"kind": "daily", "start": "09:00", "end": "17:30", "timezone": "America/New_York"}
    s = silence({"entity": "host-1"}, window)
    assert s.matches(INCIDENT, ts("2026-11-27T14:00:00"))  # 09:00 EST
    assert s.matches(INCIDENT, ts("2026-11-27T22:29:00"))  # 17:29 EST
    assert not s.matches(INCIDENT, ts("2026-11-27T22:30:00"))  # 17:30 EST
    assert not s.matches(INCIDENT, ts("2026-11-27T13:59:00"))  # 08:59 EST


def test_weekly_window_on_the_right_days() -> None:
    weekend = {"kind": "weekly", "days": ["sat", "sun"], "start": "00:00", "end": "24:00"}
    s = silence({"entity": "host-1"}, weekend)
    assert not s.matches(INCIDENT, ts("2026-11-27T23:59:59"))  # Friday
    assert s.matches(INCIDENT, ts("2026-11-28T00:00:00"))  # Saturday
    assert s.matches(INCIDENT, ts("2026-11-29T23:59:59"))  # Sunday
    assert not s.matches(INCIDENT, ts("2026-11-30T00:00:00"))  # Monday


def test_weekly_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = {"kind": "weekly", "days": ["Friday"], "start": "22:00", "end": "02:00"}
    s = silence({"entity": "host-1"}, friday_night)
    assert s.matches(INCIDENT, ts("2026-11-27T23:00:00"))  # Friday 23:00
    assert s.matches(INCIDENT, ts("2026-11-28T01:00:00"))  # Saturday 01:00, Friday's window
    assert not s.matches(INCIDENT, ts("2026-11-28T23:00:00"))  # Saturday 23:00
    assert not s.matches(INCIDENT, ts("2026-11-26T23:00:00"))  # Thursday 23:00
    assert not s.matches(INCIDENT, ts("2026-11-27T01:00:00"))  # Friday 01:00, Thursday's window


def test_dst_keeps_a_paris_window_at_the_same_wall_clock_time() -> None:
    window = {"kind": "daily", "start": "08:00", "end": "09:00", "timezone": "Europe/Paris"}
    s = silence({"entity": "host-1"}, window)
    # Saturday 28 March 2026: CET, UTC+1.
    assert s.matches(INCIDENT, ts("2026-03-28T07:30:00"))
    assert not s.matches(INCIDENT, ts("2026-03-28T06:30:00"))
    # Monday 30 March 2026, after the change on the 29th: CEST, UTC+2.
    assert s.matches(INCIDENT, ts("2026-03-30T06:30:00"))
    assert not s.matches(INCIDENT, ts("2026-03-30T07:30:00"))


def minutes_active(s: Silence, start: str, end: str) -> int:
    first, last = int(ts(start)), int(ts(end))
    return sum(s.matches(INCIDENT, float(t)) for t in range(first, last, 60))


def test_dst_skipped_hour_never_silences_and_repeated_hour_silences_twice() -> None:
    window = {"kind": "daily", "start": "02:00", "end": "03:00", "timezone": "Europe/Paris"}
    s = silence({"entity": "host-1"}, window)
    # An ordinary night: one hour.
    assert minutes_active(s, "2026-03-27T22:00:00", "2026-03-28T04:00:00") == 60
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:xx never happens.
    assert minutes_active(s, "2026-03-28T22:00:00", "2026-03-29T04:00:00") == 0
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:xx happens twice.
    assert minutes_active(s, "2026-10-24T22:00:00", "2026-10-25T04:00:00") == 120
    assert s.matches(INCIDENT, ts("2026-10-25T00:30:00"))  # 02:30 CEST
    assert s.matches(INCIDENT, ts("2026-10-25T01:30:00"))  # 02:30 CET


# -- first_matching and serialisation --------------------------------------------------------


def test_first_matching_returns_the_first_silence_that_applies() -> None:
    at = ts("2026-11-27T08:00:00")
    other = Silence("a", {"entity": "host-2"}, *ALWAYS)
    broad = Silence("b", {"model_id": "~metrics-.*"}, *ALWAYS)
    narrow = Silence("c", {"entity": "host-1"}, *ALWAYS)
    assert first_matching([other, broad, narrow], INCIDENT, at) is broad
    assert first_matching([narrow, broad], INCIDENT, at) is narrow
    assert first_matching([other], INCIDENT, at) is None
    assert first_matching([], INCIDENT, at) is None


def test_to_dict_and_from_dict_round_trip() -> None:
    original = Silence(
        "sil-9",
        {"entity": "~host-[0-9]+", "severity": "warning"},
        starts_at=ts("2026-11-27T08:00:00"),
        ends_at=ts("2026-12-27T08:00:00"),
        recurrence={
            "kind": "weekly",
            "days": ["sun", "sat"],
            "start": "22:00",
            "end": "06:00",
            "timezone": "Europe/Paris",
        },
        comment="disk migration",
        created_by="ops@example.org",
    )
    data = original.to_dict()
    assert data["starts_at"] == "2026-11-27T08:00:00.000Z"
    assert data["recurrence"] == {
        "kind": "weekly",
        "days": ["sat", "sun"],
        "start": "22:00",
        "end": "06:00",
        "timezone": "Europe/Paris",
    }
    restored = Silence.from_dict(data)
    assert restored == original
    assert restored.matches(INCIDENT, ts("2026-11-28T22:30:00")) == original.matches(
        INCIDENT, ts("2026-11-28T22:30:00")
    )
    assert Silence.from_dict({**data, "starts_at": original.starts_at}) == original


# -- invalid input ---------------------------------------------------------------------------

VALID: dict[str, Any] = {
    "id": "sil-1",
    "matchers": {"entity": "host-1"},
    "starts_at": "2026-11-27T08:00:00Z",
    "ends_at": "2026-11-27T09:00:00Z",
}
DAILY = {"kind": "daily", "start": "22:00", "end": "06:00", "timezone": "UTC"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"id": ""}, "id", "non-empty"),
        ({"id": None}, "id", "required"),
        ({"matchers": {}}, "matchers", "at least one"),
        ({"matchers": {"host": "x"}}, "matchers.host", "not a matcher key"),
        ({"matchers": {"entity": 5}}, "matchers.entity", "must be a string"),
        ({"matchers": {"entity": "~host-("}}, "matchers.entity", "not a valid regex"),
        ({"matchers": {"entity": "~" + "a" * 300}}, "matchers.entity", "longer than 256"),
        ({"matchers": {"entity": "~(a+)+b"}}, "matchers.entity", "exponential"),
        ({"matchers": {"entity": "~((x|y*)z){2,}"}}, "matchers.entity", "exponential"),
        ({"starts_at": "yesterday"}, "starts_at", "ISO-8601"),
        ({"ends_at": 1.0972553217433214e16}, "ends_at", "years 1 and 9999"),
        ({"starts_at": -1e11}, "starts_at", "years 1 and 9999"),
        ({"ends_at": "2026-11-27T07:00:00Z"}, "ends_at", "after starts_at"),
        ({"ends_at": VALID["starts_at"]}, "ends_at", "after starts_at"),
        ({"recurrence": "nightly"}, "recurrence", "object"),
        ({"recurrence": {**DAILY, "kind": "monthly"}}, "recurrence.kind", "daily or weekly"),
        ({"recurrence": {**DAILY, "start": "25:00"}}, "recurrence.start", "HH:MM"),
        ({"recurrence": {**DAILY, "start": "24:00"}}, "recurrence.start", "00:00"),
        ({"recurrence": {**DAILY, "end": "6pm"}}, "recurrence.end", "HH:MM"),
        ({"recurrence": {**DAILY, "end": "22:00"}}, "recurrence.end", "differ"),
        ({"recurrence": {**DAILY, "timezone": "Mars/Olympus"}}, "recurrence.timezone", "IANA"),
        ({"recurrence": {**DAILY, "days": ["mon"]}}, "recurrence.days", "only for a weekly"),
        ({"recurrence": {**DAILY, "kind": "weekly"}}, "recurrence.days", "at least one day"),
        ({"recurrence": {**DAILY, "kind": "weekly", "days": ["funday"]}}, "recurrence.days", "mon"),
        ({"recurrence": {"kind": "daily", "start": "01:00"}}, "recurrence.end", "required"),
        ({"recurrence": {**DAILY, "every": 2}}, "recurrence.every", "not a known field"),
        ({"silenced_by": "me"}, "silenced_by", "not a field"),
        ({"comment": 7}, "comment", "string"),
    ],
)
def test_invalid_silences_raise_a_sentence_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SilenceError) as caught:
        Silence.from_dict({**VALID, **change})
    assert caught.value.field == field
    message = str(caught.value)
    assert field in message and words in message
    assert message.endswith(".")
    assert isinstance(caught.value, ValueError)


def test_a_valid_silence_parses() -> None:
    s = Silence.from_dict({**VALID, "recurrence": DAILY})
    assert s.starts_at == ts("2026-11-27T08:00:00") and s.ends_at == ts("2026-11-27T09:00:00")
