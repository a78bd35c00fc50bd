"""The clock's effect on a row (app/worker/expiry.py): silent incidents resolve, idle model state goes,
on the worker's clock and never on event time; ModelConfig refuses bad values."""

from __future__ import annotations

from typing import Any

import pytest

from app.worker.entity_record import EntityRecord
from app.worker.expiry import sweep_row
from detectors import DetectorError
from incidents.config import ModelConfig
from incidents.lifecycle import EntityIncidents
from incidents.observation import LifecycleSpec, Observation

BACKFILLED_TS = 1_000_000_000.0  # September 2001: event time far behind the worker's clock
NOW = 1_800_000_000.0  # the worker's clock


def _config(model_id: str = "m", **fields: Any) -> ModelConfig:
    return ModelConfig.from_dict({"model_id": model_id, "detector": "ewma", **fields})


def _row(heard: float, models: tuple[str, ...] = ("m",), open_incident: bool = True) -> Any:
    life = EntityIncidents("host-1")
    if open_incident:
        obs = Observation(models[0], "1", "telemetry.metrics", BACKFILLED_TS, 9.0, 3.0, True)
        life.observe(obs, LifecycleSpec())
    states = {m: {"points": 10} for m in models}
    return EntityRecord(None).updated("t:0", 7, states, life.to_state(), [], heard)


def test_an_incident_stays_open_while_the_entity_sends_even_with_old_event_times() -> None:
    config = _config(silent_after=60, state_ttl=600)
    swept = sweep_row("host-1", _row(NOW - 59), NOW, lambda m: config)
    assert not swept.changed and swept.outbox == []


def test_a_silent_entity_s_incident_resolves_with_reason_silent() -> None:
    config = _config(silent_after=60, state_ttl=600)
    swept = sweep_row("host-1", _row(NOW - 60), NOW, lambda m: config)
    [event] = swept.outbox
    assert (event["event"], event["status"], event["resolution"]) == (
        "resolve",
        "resolved",
        "silent",
    )
    assert event["entity"] == "host-1" and event["seq"] == 1
    assert swept.row is not None and swept.row["shared"]["open"] is None
    assert swept.row["outbox"] == [event]
    assert swept.models == ["m"], "the model state stays: only the incident resolved"
    # The next round finds nothing more to resolve, and the outbox is still there to publish.
    again = sweep_row("host-1", swept.row, NOW + 5, lambda m: config)
    assert again.outbox == [event] and not again.changed


def test_back_filled_points_do_not_expire_state_on_arrival() -> None:
    config = _config(silent_after=60, state_ttl=600)
    swept = sweep_row("host-1", _row(NOW, open_incident=False), NOW, lambda m: config)
    assert swept.expired == [] and swept.row is not None and swept.models == ["m"]


def test_state_expires_per_model_and_the_row_goes_when_none_is_left() -> None:
    short, long = _config("a", state_ttl=100), _config("b", state_ttl=1000)
    configs = {"a": short, "b": long}
    row = _row(NOW - 500, models=("a", "b"), open_incident=False)
    swept = sweep_row("host-1", row, NOW, configs.get)
    assert swept.expired == ["a"] and swept.models == ["b"]
    assert swept.row is not None and set(swept.row["models"]) == {"b"}
    assert set(swept.row["seen"]) == {"b"}
    gone = sweep_row("host-1", swept.row, NOW + 500, configs.get)
    assert gone.expired == ["b"] and gone.changed and gone.row is None


def test_a_row_with_an_open_incident_is_kept_until_the_incident_resolves() -> None:
    config = _config(silent_after=0, state_ttl=100)  # silent resolution off
    swept = sweep_row("host-1", _row(NOW - 200), NOW, lambda m: config)
    assert swept.expired == ["m"] and swept.row is not None
    assert swept.row["shared"]["open"] is not None


def test_zero_turns_both_off() -> None:
    config = _config(silent_after=0, state_ttl=0)
    swept = sweep_row("host-1", _row(NOW - 10 * 365 * 86400), NOW, lambda m: config)
    assert not swept.changed


def test_a_row_written_before_heard_was_recorded_is_stamped_when_first_met() -> None:
    config = _config(silent_after=60, state_ttl=600)
    row = {k: v for k, v in _row(NOW).items() if k not in ("heard", "seen", "v")}
    swept = sweep_row("host-1", row, NOW, lambda m: config)
    assert swept.changed and swept.row is not None and swept.row["heard"] == NOW
    assert sweep_row("host-1", swept.row, NOW + 59, lambda m: config).outbox == []
    assert len(sweep_row("host-1", swept.row, NOW + 60, lambda m: config).outbox) == 1


def test_a_model_no_longer_configured_expires_after_the_default_ttl() -> None:
    row = _row(NOW - 7 * 86400, open_incident=False)
    assert sweep_row("host-1", row, NOW - 1, lambda m: None).row is not None
    assert sweep_row("host-1", row, NOW, lambda m: None).row is None


@pytest.mark.parametrize("field", ["silent_after", "state_ttl"])
@pytest.mark.parametrize("value", [-1, float("nan"), float("inf")])
def test_model_config_refuses_bad_values_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(DetectorError, match=f"^{field} must be 0 \\(off\\) or a positive"):
        _config(**{field: value})


def test_model_config_defaults() -> None:
    config = _config()
    assert (config.silent_after, config.state_ttl) == (3600.0, 7 * 86400.0)


# --- expect_every: absence as an anomaly ------------------------------------------------------


def test_a_model_that_hears_nothing_for_expect_every_opens_one_absence_incident() -> None:
    config = _config(expect_every=300, silent_after=3600, state_ttl=7200, alert_channels=["slack"])
    row = _row(NOW - 299, open_incident=False)
    assert not sweep_row("host-1", row, NOW, lambda m: config).changed
    swept = sweep_row("host-1", row, NOW + 1, lambda m: config)
    [opened] = swept.outbox
    assert (opened["event"], opened["status"], opened["entity"], opened["model_id"]) == (
        "open",
        "open",
        "host-1",
        "m",
    )
    assert opened["ts"] == NOW + 1 and opened["score"] == 300.0 and opened["threshold"] == 300.0
    assert opened["summary"] == "m on host-1: nothing received for 300 s (expected every 300 s)"
    assert opened["alert_channels"] == ["slack"]
    assert swept.row is not None and swept.row["outbox"] == [opened]
    # the next rounds open nothing more (the outbox, not yet published, is all there is)
    again = sweep_row("host-1", {**swept.row, "outbox": []}, NOW + 600, lambda m: config)
    assert again.outbox == [] and not again.changed


def test_an_absence_resolves_when_the_model_s_state_expires() -> None:
    config = _config(expect_every=300, silent_after=3600, state_ttl=7200)
    opened = sweep_row("host-1", _row(NOW - 300, open_incident=False), NOW, lambda m: config)
    assert opened.row is not None
    swept = sweep_row("host-1", {**opened.row, "outbox": []}, NOW + 6900, lambda m: config)
    [resolved] = swept.outbox
    assert (resolved["event"], resolved["resolution"], resolved["seq"]) == (
        "resolve",
        "expired",
        1,
    )
    assert resolved["incident_id"] == opened.outbox[0]["incident_id"]
    assert swept.expired == ["m"] and swept.row is not None and "absent" not in swept.row
    gone = sweep_row("host-1", {**swept.row, "outbox": []}, NOW + 6901, lambda m: config)
    assert gone.row is None, "tombstoned once the resolve is out"


def test_expect_every_is_off_by_default_and_refuses_a_negative_value() -> None:
    swept = sweep_row("host-1", _row(NOW - 86400, open_incident=False), NOW, lambda m: _config())
    assert all(e["event"] != "open" for e in swept.outbox)
    with pytest.raises(DetectorError, match="expect_every must be 0"):
        _config(expect_every=-1)
