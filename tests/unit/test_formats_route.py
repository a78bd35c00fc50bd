"""Which model takes which sample for which entity, and the rows it scores: features aligned
by timestamp, counters as per-second rates with resets."""

from __future__ import annotations

import math

import orjson

from app.telemetry.formats import Column, Decoded, Record, Sample
from app.telemetry.formats.route import plan, rows
from app.telemetry.formats.sniff import engine_samples, moved_metrics
from incidents.config import ModelConfig


def model(**fields: object) -> ModelConfig:
    return ModelConfig.from_dict({"model_id": "m", "features": ["load", "req"], **fields})


def test_entity_from_defaults_per_format_and_per_model_override() -> None:
    sample = Sample("load", 0.0, 1.0, {"host.name": "h1", "service.name": "api", "pod": "p-7"})
    otlp = Decoded("otlp", samples=[sample])
    assert list(plan(otlp, [model()], "metrics")[0]) == ["h1"]
    assert list(plan(otlp, [model(entity_from=["pod", "host.name"])], "metrics")[0]) == ["p-7"]


def test_two_models_take_their_own_features_and_others_are_ignored() -> None:
    decoded = Decoded("influx", samples=[
        Sample("load", 0.0, 1.0, {"host": "h1"}),
        Sample("req", 0.0, 2.0, {"host": "h1"}),
        Sample("disk", 0.0, 3.0, {"host": "h1"}),
    ])  # fmt: skip
    other = ModelConfig.from_dict({"model_id": "n", "features": ["req"]})
    chosen, errors = plan(decoded, [model(), other], "metrics")
    assert errors == []
    assert {k: [s.name for s in share.items] for k, share in chosen["h1"].items()} == {
        "m": ["load", "req"],
        "n": ["req"],
    }


def telegraf_cpu() -> Decoded:
    """Telegraf's cpu input with percpu: one series per core and the total, one host."""
    return Decoded("influx", samples=[
        Sample("cpu_usage_idle", 0.0, value, {"host": "h1", "cpu": cpu})
        for cpu, value in [("cpu0", 90.0), ("cpu1", 20.0), ("cpu-total", 55.0)]
    ])  # fmt: skip


def test_each_label_set_is_its_own_series_by_default() -> None:
    config = ModelConfig.from_dict({"model_id": "cpu", "features": ["cpu_usage_idle"]})
    chosen, _ = plan(telegraf_cpu(), [config], "metrics")
    shares = chosen["h1"]
    assert sorted(shares) == ["cpu{cpu=cpu-total}", "cpu{cpu=cpu0}", "cpu{cpu=cpu1}"]
    assert [c.values for c in shares["cpu{cpu=cpu1}"].items] == [[20.0]]


def test_a_share_counts_its_samples_not_its_columns() -> None:
    host = {"host": "h1"}
    decoded = Decoded("influx", samples=[Sample("load", t, 1.0, host) for t in (0.0, 10.0, 20.0)])
    chosen, _ = plan(decoded, [model()], "metrics")
    assert len(chosen["h1"]["m"].items) == 1 and chosen["h1"]["m"].points == 3


def test_where_filters_and_split_by_none_merges() -> None:
    config = ModelConfig.from_dict({
        "model_id": "cpu", "features": ["cpu_usage_idle"], "where": {"cpu": "cpu-total"},
        "split_by": [],
    })  # fmt: skip
    chosen, _ = plan(telegraf_cpu(), [config], "metrics")
    assert [(k, [c.values for c in share.items]) for k, share in chosen["h1"].items()] == [
        ("cpu", [[55.0]])
    ]


def test_prometheus_job_and_instance_do_not_split_series() -> None:
    config = ModelConfig.from_dict({"model_id": "p", "features": ["up", "http_requests_total"]})
    decoded = Decoded("prometheus", samples=[
        Sample("up", 0.0, 1.0, {"instance": "h1:9100", "job": "node"}),
        Sample("http_requests_total", 0.0, 5.0, {"instance": "h1:9100", "job": "node"}, True),
        Sample("http_requests_total", 0.0, 7.0,
               {"instance": "h1:9100", "job": "node", "code": "500"}, True),
    ])  # fmt: skip
    chosen, _ = plan(decoded, [config], "metrics")
    assert {k: share.points for k, share in chosen["h1:9100"].items()} == {
        "p": 2,
        "p{code=500}": 1,
    }


def columns(*samples: Sample) -> list[Column]:
    return Decoded("x", samples=samples).columns


def test_features_of_separate_messages_are_gaps_of_one_another() -> None:
    config = model()
    ts, values, memory = rows(columns(Sample("load", 10.0, 1.5)), config, None)
    assert ts.tolist() == [10.0] and values[0][0] == 1.5 and math.isnan(values[0][1])
    ts, values, _ = rows(
        columns(Sample("req", 10.0, 4.0), Sample("load", 20.0, 2.0)), config, memory
    )
    assert ts.tolist() == [10.0, 20.0]
    assert math.isnan(values[0][0]) and values[0][1] == 4.0


def test_samples_out_of_order_and_repeated_make_one_row_per_time() -> None:
    config = model(counters=["req"])
    samples = [Sample("load", t, v) for t, v in [(20.0, 2.0), (10.0, 1.0), (20.0, 3.0)]]
    samples += [Sample("req", t, v) for t, v in [(20.0, 30.0), (0.0, 10.0)]]
    ts, values, memory = rows(columns(*samples), config, None)
    assert ts.tolist() == [0.0, 10.0, 20.0]
    assert values[:, 0].tolist()[1:] == [1.0, 3.0]  # the later sample of a time wins
    assert values[2, 1] == 1.0  # (30 - 10) / 20 s
    assert memory == {"req": [20.0, 30.0]}


def test_counters_become_rates_and_a_reset_does_not_go_negative() -> None:
    config = model(counters=["req"])  # marked by the configuration, as for Telegraf
    memory = None
    got = []
    for ts, value in [(0.0, 100.0), (10.0, 150.0), (20.0, 170.0), (30.0, 5.0), (40.0, 25.0)]:
        _, values, memory = rows(columns(Sample("req", ts, value)), config, memory)
        got.append(values[0][1])
    assert math.isnan(got[0])  # the first value has no rate
    assert got[1:] == [5.0, 2.0, 0.5, 2.0]  # 150-100 over 10 s; reset: 5 since the restart


def test_a_moved_message_keeps_its_entity_models_and_series() -> None:
    sent = Column("req", {"host": "h9", "code": "500"}, True, None, [5.0, 15.0], [10.0, 12.0])
    raw = moved_metrics("h9", [("m", "{code=500}", [sent])])
    decoded = engine_samples(orjson.loads(raw), 100)
    other = ModelConfig.from_dict({"model_id": "n", "features": ["req"]})
    chosen, _ = plan(decoded, [model(), other], "metrics")
    assert list(chosen) == ["h9"] and list(chosen["h9"]) == ["m{code=500}"]
    [column] = chosen["h9"]["m{code=500}"].items
    assert (column.name, column.ts, column.values, column.counter) == (
        "req", [5.0, 15.0], [10.0, 12.0], True
    )  # fmt: skip


def test_a_message_moved_by_the_earlier_engine_is_still_read() -> None:
    raw = {"entity": "h9", "series": [["m", "", [["req", 5.0, 10.0, False]]]]}
    [column] = engine_samples(raw, 100).planned[("m", "")]  # type: ignore[index]
    assert (column.name, column.ts, column.values, column.counter) == ("req", [5.0], [10.0], False)


def test_log_models_take_every_record_of_the_entity() -> None:
    logs = ModelConfig.from_dict({"model_id": "l", "stream": "logs", "detector": "ewma"})
    decoded = Decoded("loglines", records=[Record(0.0, "error", "x", {"host": "web-1"}),
                                           Record(0.0, None, "y", {"pod": "p"})])  # fmt: skip
    chosen, errors = plan(decoded, [logs], "logs")
    assert list(chosen) == ["web-1"]
    assert errors == ["model 'l': 1 record(s) have none of the attributes host to name an entity"]


def test_features_sent_together_and_apart_make_the_same_rows() -> None:
    config = model(counters=["req"])
    together = [
        Sample(name, t, v) for t in (0.0, 10.0, 20.0) for name, v in [("load", t), ("req", 3 * t)]
    ]
    apart = [Sample("load", t, t) for t in (20.0, 0.0, 10.0)] + [
        Sample("req", t, 3 * t) for t in (0.0, 10.0, 20.0)
    ]
    ts, values, memory = rows(columns(*together), config, {"req": [-10.0, 0.0]})
    ts2, values2, memory2 = rows(columns(*apart), config, {"req": [-10.0, 0.0]})
    assert ts.tolist() == ts2.tolist() == [0.0, 10.0, 20.0]
    assert values.tolist() == values2.tolist() == [[0.0, 0.0], [10.0, 3.0], [20.0, 3.0]]
    assert memory == memory2 == {"req": [20.0, 60.0]}
