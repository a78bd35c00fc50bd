"""A declared seasonality for the adaptive detector (the recommended model): a weekly cycle is
scored as residuals from its profile, the block path gives what a point at a time gives, and
the stored row stays small."""

from __future__ import annotations

import json

import numpy as np

from app.scenarios import Scenario, engine_alerts
from detectors import ModelScorer, ModelSpec
from incidents.config import ModelConfig
from incidents.recommended import with_recommended

DAY = 1440  # minute points a day
WEEKLY = {"period": 604800, "bins": 168}
SPIKE = 13 * DAY + 600  # a Sunday, 10:00


def _weekly(seed: int, days: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """Minute points from a Monday: a daily sine of 12 sigma, weekends 20 sigma lower (over 2
    hours), and a 10-sigma spike on the second Sunday."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    k = np.arange(n)
    x = 100.0 + 12.0 * np.sin(2 * np.pi * k / DAY) + rng.normal(0.0, 1.0, n)
    weekend = ((k // DAY) % 7 >= 5).astype(float)
    x -= 20.0 * np.convolve(weekend, np.ones(120) / 120, mode="same")
    if n > SPIKE:
        x[SPIKE] += 10.0
    return 1704067200.0 + 60.0 * k, x


def _alerts(config: dict[str, object], seed: int) -> np.ndarray:
    ts, x = _weekly(seed)
    made = Scenario("weekly", seed, ts.tolist(), x.tolist(), [(SPIKE, SPIKE)])
    model = ModelConfig.from_dict(with_recommended(config))
    return np.array(engine_alerts(model)(made))


def _at_edges(alerts: np.ndarray) -> int:
    """Alert points within 3 hours of the weekends' edges after the first week (Saturday and
    Monday at 0:00)."""
    return int(sum(alerts[e * DAY - 180 : e * DAY + 180].sum() for e in (12, 14, 19)))


def test_a_declared_weekly_profile_keeps_later_weekends_quiet_and_a_weekend_spike_alerts() -> None:
    # seeds 0 to 5: 0 or 1 alert point at the edges with the profile (a 3-sigma noise point
    # next to an edge, where the hourly bins smooth the 2-hour ramp), 47 to 72 without; the
    # spike alerts in 6 of 6 with it, 1 of 6 without
    for seed in (0, 1):
        alerts = _alerts({"model_id": "m", "seasonality": WEEKLY}, seed)
        assert _at_edges(alerts) <= 1, seed
        assert alerts[SPIKE : SPIKE + 6].any(), seed
    # without it (and before the adaptive detector took a declared period) every edge alerts
    assert _at_edges(_alerts({"model_id": "m"}, 0)) >= 20


def test_a_weekly_profile_scores_a_block_as_a_point_at_a_time_to_the_last_bit() -> None:
    ts, x = _weekly(2, days=9)  # the profile switches on after day 7
    spec = ModelSpec("adaptive", {}, n_features=1, seasonality=WEEKLY)
    one, block = ModelScorer(spec), ModelScorer(spec)
    points = [one.score_one([v], ts=t) for v, t in zip(x.tolist(), ts.tolist(), strict=True)]
    parts = [
        block.score_block(x[s : s + 997, None], ts=ts[s : s + 997]) for s in range(0, len(x), 997)
    ]
    score = np.concatenate([p.score for p in parts])
    centers = np.concatenate([p.centers[:, 0] for p in parts])
    assert np.array_equal(score, [p.score for p in points], equal_nan=True)
    assert np.array_equal(centers, [p.baseline[0][0] for p in points], equal_nan=True)
    assert np.concatenate([p.is_anomaly for p in parts]).tolist() == [p.is_anomaly for p in points]
    assert block.to_state() == one.to_state()
    again = ModelScorer(spec, json.loads(json.dumps(one.to_state())))
    later = ts[-1] + 60.0
    assert again.score_one([x[-1]], ts=later) == one.score_one([x[-1]], ts=later)


def test_a_row_with_a_weekly_profile_stays_under_8_kb_after_3_weeks() -> None:
    ts, x = _weekly(3)
    scorer = ModelScorer(ModelSpec("adaptive", {}, n_features=1, seasonality=WEEKLY))
    scorer.score_block(x[:, None], ts=ts)
    assert len(json.dumps(scorer.to_state())) < 8192


def test_feedback_under_a_weekly_profile_teaches_the_residuals_not_the_raw_values() -> None:
    # weekend points dismissed as normal: learned less the profile's offsets (about 0), the
    # detector's level stays where it was; learned raw (20 sigma under the level) it would move
    ts, x = _weekly(4, days=13)
    spec = ModelSpec("adaptive", {}, n_features=1, seasonality=WEEKLY)
    scorer = ModelScorer(spec)
    scorer.score_block(x[: 12 * DAY, None], ts=ts[: 12 * DAY])
    saturday = slice(12 * DAY + 600, 12 * DAY + 630)  # day 12: a Saturday, 10:00
    rows = x[saturday, None]
    level = scorer.detector._features[0].level
    told = ModelScorer(spec, json.loads(json.dumps(scorer.to_state())))
    told.learn_normal(rows, ts[saturday])
    raw = ModelScorer(spec, json.loads(json.dumps(scorer.to_state())))
    raw.learn_normal(rows)
    assert abs(told.detector._features[0].level - level) < 1.0
    assert abs(raw.detector._features[0].level - level) > 2 * abs(
        told.detector._features[0].level - level
    )
