"""Which model takes which sample for which entity, and the rows it scores: features aligned
by timestamp, counters as per-second rates with resets."""

from __future__ import annotations

import math

import orjson

from incidents.config import ModelConfig
from incidents.formats import Decoded, Record, Sample
from incidents.formats.route import plan, rows
from incidents.formats.sniff import engine_samples, moved_metrics


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
    assert {m: [s.name for s in items] for m, (_, items) in chosen["h1"].items()} == {
        "m": ["load", "req"],
        "n": ["req"],
    }


def test_features_of_separate_messages_are_gaps_of_one_another() -> None:
    config = model()
    ts, values, memory = rows([Sample("load", 10.0, 1.5)], config, None)
    assert ts == [10.0] and values[0][0] == 1.5 and math.isnan(values[0][1])
    ts, values, _ = rows([Sample("req", 10.0, 4.0), Sample("load", 20.0, 2.0)], config, memory)
    assert ts == [10.0, 20.0]
    assert math.isnan(values[0][0]) and values[0][1] == 4.0


def test_counters_become_rates_and_a_reset_does_not_go_negative() -> None:
    config = model(counters=["req"])  # marked by the configuration, as for Telegraf
    memory = None
    got = []
    for ts, value in [(0.0, 100.0), (10.0, 150.0), (20.0, 170.0), (30.0, 5.0), (40.0, 25.0)]:
        _, values, memory = rows([Sample("req", ts, value, {"host": "h1"})], config, memory)
        got.append(values[0][1])
    assert math.isnan(got[0])  # the first value has no rate
    assert got[1:] == [5.0, 2.0, 0.5, 2.0]  # 150-100 over 10 s; reset: 5 since the restart


def test_each_label_set_of_a_counter_keeps_its_own_rate() -> None:
    config = model()
    first = [Sample("req", 0.0, 100.0, {"code": "200"}, True),
             Sample("req", 0.0, 10.0, {"code": "500"}, True)]  # fmt: skip
    _, _, memory = rows(first, config, None)
    _, values, _ = rows([Sample("req", 10.0, 20.0, {"code": "500"}, True)], config, memory)
    assert values[0][1] == 1.0  # (20 - 10) / 10 s, not against the code=200 series


def test_a_moved_message_keeps_its_entity_and_models() -> None:
    raw = moved_metrics("h9", ["m"], [Sample("req", 5.0, 10.0, {"host": "h9"}, True)])
    decoded = engine_samples(orjson.loads(raw), 100)
    config = model()
    other = ModelConfig.from_dict({"model_id": "n", "features": ["req"]})
    chosen, _ = plan(decoded, [config, other], "metrics")
    assert list(chosen) == ["h9"] and list(chosen["h9"]) == ["m"]
    assert chosen["h9"]["m"][1][0].counter


def test_log_models_take_every_record_of_the_entity() -> None:
    logs = ModelConfig.from_dict({"model_id": "l", "stream": "logs", "detector": "ewma"})
    decoded = Decoded("loglines", records=[Record(0.0, "error", "x", {"host": "web-1"}),
                                           Record(0.0, None, "y", {"pod": "p"})])  # fmt: skip
    chosen, errors = plan(decoded, [logs], "logs")
    assert list(chosen) == ["web-1"]
    assert errors == ["model 'l': 1 record(s) have none of the attributes host to name an entity"]
