"""Telemetry decoding: the three message forms, values by name, timestamps, and the errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.telemetry.messages import decode_batch, message_ids, point_values, records_to_batch
from incidents.config import ModelConfig
from incidents.points import Batch, TelemetryError, parse_ts

T0 = 1795766400.0  # 2026-11-27T08:00:00Z

BY_POSITION = ModelConfig("m", "1", "zscore", {"mean": [100, 5], "std": [5, 1]})
BY_NAME = ModelConfig(
    "m", "1", "zscore", {"mean": [100, 5], "std": [5, 1]}, features=("cpu", "mem")
)
OPEN = ModelConfig("m", "1", "ewma")  # no feature count fixed: the first point decides


def _msg(**fields: Any) -> dict[str, Any]:
    return {"model_id": "m", "entity": "host-1", **fields}


def _nan_aware(batch: Batch) -> tuple[Any, ...]:
    """A comparison key where NaN equals NaN (gaps are NaN); lists and arrays alike."""
    values = [[float(x) for x in row] for row in batch.values]
    return (batch.model_id, batch.entity, [float(t) for t in batch.ts], repr(values))


# --- the three forms ----------------------------------------------------------------------


def test_one_point_form() -> None:
    batch = decode_batch(_msg(ts="2026-11-27T08:00:00Z", values=[101.0, 5.0]), BY_POSITION, 10)
    assert batch == Batch("m", "host-1", [T0], [[101.0, 5.0]])


def test_one_point_keeps_plain_floats_and_its_label_and_feedback() -> None:
    """A finite float goes through as it is; any other number (an int, a numpy float) is
    converted, so the scorer always gets plain floats; a null label or feedback is none."""
    plain = decode_batch(
        _msg(ts=T0, values=[np.float64(2.5), 3], label=None, feedback=None), BY_POSITION, 10
    )
    assert plain.values == [[2.5, 3.0]] and [type(v) for v in plain.values[0]] == [float, float]
    assert plain.labels is None and plain.feedback is None
    marked = decode_batch(
        _msg(ts=T0, values=[1.0, None], label=1, feedback="false_positive"), BY_POSITION, 10
    )
    assert marked.labels == [1] and marked.feedback == ["false_positive"]
    assert math.isnan(marked.values[0][1])
    with pytest.raises(TelemetryError, match=r"^label\[0\] must be 0, 1 or null, got 2$"):
        decode_batch(_msg(ts=T0, values=[1.0, 2.0], label=2), BY_POSITION, 10)
    with pytest.raises(TelemetryError, match=r'^feedback must be "false_positive" or null'):
        decode_batch(_msg(ts=T0, values=[1.0, 2.0], feedback="yes"), BY_POSITION, 10)


def test_points_and_columnar_forms_decode_to_the_same_batch_as_single_points() -> None:
    ts = [T0, "2026-11-27T08:00:10Z", T0 + 20]
    rows = [[101.0, 5.0], [102.5, 4.0], [99.0, 6.5]]
    points = decode_batch(
        _msg(points=[{"ts": t, "values": v} for t, v in zip(ts, rows, strict=True)]),
        BY_POSITION,
        10,
    )
    columnar = decode_batch(
        _msg(ts=ts, values=[[r[0] for r in rows], [r[1] for r in rows]]), BY_POSITION, 10
    )
    singles = [
        decode_batch(_msg(ts=t, values=v), BY_POSITION, 10) for t, v in zip(ts, rows, strict=True)
    ]
    expected = Batch("m", "host-1", [T0, T0 + 10, T0 + 20], rows)
    assert points == expected
    assert columnar == expected
    assert [b.ts[0] for b in singles] == expected.ts
    assert [b.values[0] for b in singles] == expected.values


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda n: st.lists(
            st.tuples(
                st.floats(min_value=0, max_value=4e9, allow_nan=False),
                st.lists(st.one_of(st.none(), finite), min_size=n, max_size=n),
            ),
            min_size=1,
            max_size=20,
        )
    )
)
def test_the_three_forms_agree_on_any_input(points: list[tuple[float, list[float | None]]]) -> None:
    n = len(points[0][1])
    as_points = decode_batch(_msg(points=[{"ts": t, "values": v} for t, v in points]), OPEN, 1000)
    as_columns = decode_batch(
        _msg(ts=[t for t, _ in points], values=[[v[j] for _, v in points] for j in range(n)]),
        OPEN,
        1000,
    )
    assert _nan_aware(as_points) == _nan_aware(as_columns)
    for i, (t, v) in enumerate(points):
        single = decode_batch(_msg(ts=t, values=v), OPEN, 1000)
        assert single.ts == [as_points.ts[i]]
        assert repr(single.values) == repr([as_points.values[i]])
    # null is a gap (NaN), every other value is kept exactly
    for row, (_, v) in zip(as_points.values, points, strict=True):
        assert [None if math.isnan(x) else x for x in row] == v


def test_columnar_nulls_are_gaps() -> None:
    batch = decode_batch(_msg(ts=[0, 1], values=[[1, 2], [3, None]]), BY_POSITION, 10)
    assert batch.values[0] == [1.0, 3.0]
    assert batch.values[1][0] == 2.0 and math.isnan(batch.values[1][1])


def test_an_empty_points_list_is_an_empty_batch() -> None:
    assert decode_batch(_msg(points=[]), BY_POSITION, 10) == Batch("m", "host-1", [], [])


# --- values by feature name ----------------------------------------------------------------


def test_values_by_name_are_put_in_feature_order() -> None:
    batch = decode_batch(_msg(ts=T0, values={"mem": 5, "cpu": 101.5}), BY_NAME, 10)
    assert batch.values == [[101.5, 5.0]]


def test_a_named_feature_left_out_or_null_is_a_gap() -> None:
    left_out = point_values({"mem": 5}, BY_NAME)
    null = point_values({"cpu": None, "mem": 5}, BY_NAME)
    assert math.isnan(left_out[0]) and left_out[1] == 5.0
    assert math.isnan(null[0]) and null[1] == 5.0


def test_points_form_accepts_values_by_name() -> None:
    batch = decode_batch(
        _msg(points=[{"ts": 0, "values": {"cpu": 1}}, {"ts": 1, "values": {"mem": 2}}]),
        BY_NAME,
        10,
    )
    assert repr(batch.values) == repr([[1.0, math.nan], [math.nan, 2.0]])


def test_unknown_feature_name_is_rejected_with_the_known_names() -> None:
    with pytest.raises(TelemetryError, match=r"values names unknown feature 'disk'.*cpu, mem"):
        decode_batch(_msg(ts=T0, values={"cpu": 1, "disk": 2}), BY_NAME, 10)


def test_values_by_name_need_features_in_the_configuration() -> None:
    with pytest.raises(TelemetryError, match="values is an object but model 'm' names no features"):
        decode_batch(_msg(ts=T0, values={"cpu": 1}), BY_POSITION, 10)


def test_a_bare_number_is_a_one_feature_point() -> None:
    assert decode_batch(_msg(ts=T0, values=7), OPEN, 10).values == [[7.0]]


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-27T08:00:00Z", T0),
        ("2026-11-27T08:00:00", T0),  # naive ISO is UTC
        ("2026-11-27T09:00:00+01:00", T0),
        ("2026-11-27T02:30:00-05:30", T0),
        ("2026-11-27T08:00:00.250Z", T0 + 0.25),
        (T0, T0),
        (int(T0), T0),
        (0, 0.0),
    ],
)
def test_timestamps(ts: object, expected: float) -> None:
    assert parse_ts(ts) == expected


def test_a_naive_timestamp_is_not_read_in_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_ts("2026-11-27T08:00:00") == T0
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("ts", "message"),
    [
        (T0 * 1000, r"ts 1795766400000.0 looks like milliseconds; send epoch seconds or ISO-8601"),
        (math.inf, r"ts must be a finite number, got inf"),
        (-math.inf, r"ts must be a finite number, got -inf"),
        (math.nan, r"ts must be a finite number, got nan"),
        ("yesterday", r"ts 'yesterday' is neither ISO-8601 nor epoch seconds"),
        ("2026-13-01T00:00:00Z", r"ts '2026-13-01T00:00:00Z' is neither ISO-8601"),
        (True, r"ts must be ISO-8601 text or epoch seconds, got True"),
        (None, r"ts must be ISO-8601 text or epoch seconds, got None"),
        ({"s": T0}, r"ts must be ISO-8601 text or epoch seconds"),
    ],
)
def test_bad_single_timestamps(ts: object, message: str) -> None:
    with pytest.raises(TelemetryError, match=message):
        decode_batch(_msg(ts=ts, values=[1, 2]), BY_POSITION, 10)


def test_bad_timestamps_are_located_in_batches() -> None:
    with pytest.raises(TelemetryError, match=r"^points\[1\]\.ts 'x' is neither ISO-8601"):
        decode_batch(
            _msg(points=[{"ts": 0, "values": [1, 2]}, {"ts": "x", "values": [1, 2]}]),
            BY_POSITION,
            10,
        )
    with pytest.raises(TelemetryError, match=r"^ts\[2\] must be a finite number, got inf"):
        decode_batch(_msg(ts=[0, 1, math.inf], values=[[1, 1, 1], [2, 2, 2]]), BY_POSITION, 10)
    with pytest.raises(TelemetryError, match=r"^ts\[0\] 1795766400000 looks like milliseconds"):
        decode_batch(_msg(ts=[1795766400000], values=[[1], [2]]), BY_POSITION, 10)
    with pytest.raises(TelemetryError, match=r"^points\[0\]\.ts must be ISO-8601 text"):
        decode_batch(_msg(points=[{"values": [1, 2]}]), BY_POSITION, 10)


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_msg(ts=T0, values=[1, 2, 3]), r"^values has 3 values but model 'm' expects 2$"),
        (_msg(ts=T0, values=[1, "2"]), r"^values\[1\] must be a number or null, got '2'$"),
        (_msg(ts=T0, values=[True, 2]), r"^values\[0\] must be a number or null, got True$"),
        (_msg(ts=T0, values=[1, math.nan]), r"^values\[1\] must be finite, got nan$"),
        (_msg(ts=T0, values=[math.inf, 1]), r"^values\[0\] must be finite, got inf$"),
        (_msg(ts=T0, values=[]), r"^values must hold at least one value$"),
        (_msg(ts=T0, values="1,2"), r"^values must be a list of numbers or an object"),
        (_msg(ts=T0), r"needs ts and values, or points"),
        (
            _msg(points=[{"ts": 0, "values": [1, 2]}, {"ts": 1, "values": [1]}]),
            r"^points\[1\]\.values has 1 values but model 'm' expects 2$",
        ),
        (
            _msg(points=[{"ts": 0, "values": [1, False]}]),
            r"^points\[0\]\.values\[1\] must be a number or null, got False$",
        ),
        (_msg(points=[5]), r"^points\[0\] must be an object with ts and values$"),
        (_msg(points={"ts": 0}), r"^points must be a list"),
        (
            _msg(ts=[0, 1], values=[[1, 2]]),
            r"^values has 1 feature columns but model 'm' expects 2$",
        ),
        (_msg(ts=[0, 1], values=[[1, 2], [3]]), r"^values\[1\] has 1 values for 2 timestamps$"),
        (
            _msg(ts=[0, 1], values=[[1, 2], [3, "x"]]),
            r"^values\[1\]\[1\] must be a number or null, got 'x'$",
        ),
        (
            _msg(ts=[0, 1], values=[[1, 2], [3, math.inf]]),
            r"^values\[1\]\[1\] must be finite, got inf$",
        ),
        (
            _msg(ts=[0, 1], values=[1, 2]),
            r"^columnar values must be a list of one list per feature",
        ),
    ],
)
def test_bad_values_name_the_field(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(TelemetryError, match=message):
        decode_batch(payload, BY_POSITION, 10)


def test_points_of_different_lengths_are_rejected_when_the_model_fixes_no_count() -> None:
    with pytest.raises(TelemetryError, match="every point of a message must have the same number"):
        decode_batch(_msg(points=[{"ts": 0, "values": [1, 2]}, {"ts": 1, "values": [1]}]), OPEN, 10)


def test_columnar_message_without_columns_is_rejected() -> None:
    with pytest.raises(TelemetryError, match="values"):
        decode_batch(_msg(ts=[T0, T0 + 1], values=[]), OPEN, 10)


# --- limits and identity ----------------------------------------------------------------------


def test_point_count_limit_applies_to_both_batch_forms() -> None:
    rows = [{"ts": i, "values": [1, 2]} for i in range(3)]
    assert len(decode_batch(_msg(points=rows), BY_POSITION, 3).ts) == 3
    with pytest.raises(TelemetryError, match="^3 points in one message is over the limit of 2$"):
        decode_batch(_msg(points=rows), BY_POSITION, 2)
    with pytest.raises(TelemetryError, match="^3 points in one message is over the limit of 2$"):
        decode_batch(_msg(ts=[0, 1, 2], values=[[1, 1, 1], [2, 2, 2]]), BY_POSITION, 2)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"entity": "host-1", "ts": T0, "values": [1, 2]}, "^model_id must be a non-empty string"),
        ({"model_id": "m", "ts": T0, "values": [1, 2]}, "^entity must be a non-empty string"),
        ({"model_id": "", "entity": "h", "ts": T0, "values": [1, 2]}, "^model_id must be"),
        ({"model_id": "m", "entity": 7, "ts": T0, "values": [1, 2]}, "^entity must be .*got 7"),
        ([{"model_id": "m"}], "^a telemetry message must be a JSON object, got list$"),
    ],
)
def test_messages_without_model_or_entity_are_rejected(payload: Any, message: str) -> None:
    with pytest.raises(TelemetryError, match=message):
        message_ids(payload)
    with pytest.raises(TelemetryError, match=message):
        decode_batch(payload, BY_POSITION, 10)


def test_telemetry_error_is_a_value_error() -> None:
    # callers that only know ValueError (e.g. generic input handling) still catch it
    with pytest.raises(ValueError, match="ts"):
        parse_ts("not a time")


# --- REST records ------------------------------------------------------------------------------


def test_records_decode_like_points() -> None:
    records = [
        {"ts": "2026-11-27T08:00:00Z", "values": {"cpu": 1}},
        {"ts": T0 + 1, "values": [2, 3]},
    ]
    batch = records_to_batch(records, BY_NAME, "host-9")
    assert batch.model_id == "m" and batch.entity == "host-9"
    assert batch.ts == [T0, T0 + 1]
    assert repr(batch.values) == repr([[1.0, math.nan], [2.0, 3.0]])


def test_bad_records_name_the_record() -> None:
    with pytest.raises(TelemetryError, match=r"^records\[1\]\.ts 'soon' is neither ISO-8601"):
        records_to_batch(
            [{"ts": 0, "values": [1, 2]}, {"ts": "soon", "values": [1, 2]}], BY_POSITION, "h"
        )
    with pytest.raises(TelemetryError, match=r"^records\[0\]\.values\.mem must be finite"):
        records_to_batch([{"ts": 0, "values": {"mem": math.inf}}], BY_NAME, "h")
    with pytest.raises(TelemetryError, match="every record must have the same number of values"):
        records_to_batch([{"ts": 0, "values": [1, 2]}, {"ts": 1, "values": [1]}], OPEN, "h")
