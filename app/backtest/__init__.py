"""Offline backtest: the engine's own scoring step over CSV files in the NAB layout.

``DIR/<category>/<file>.csv`` holds ``timestamp,value`` rows (ISO-8601 or epoch seconds, UTC);
the labels file maps ``<category>/<file>.csv`` to ``[[start, end], ...]`` anomaly windows. Each
file is one entity of one model, scored by :func:`incidents.scoring.score_batch` with learning on,
in event-time order, in batches that carry the key's and the entity's state like the stream does.

Each file gives ``OUT/<category>/<NAME>_<file>.csv`` with ``timestamp,value,anomaly_score,label``
(one row per input row, in input order, the timestamp and value text as read):

- continuous (the default), from the engine's outputs only: ``score / (score + threshold)``
  (:func:`app.backtest.scoring.continuous_score`), so a point exactly at its threshold is 0.5, a
  NaN score is 0;
- ``decisions``: 1 on the points where the engine opened an incident (after suppression,
  cooldown and the incident lifecycle), else 0 (:func:`app.backtest.scoring.decision_score`).

Metrics judge the engine's alerts (a point alerts when it is flagged and passes suppression)
against the labels: point-wise precision/recall/F1/accuracy (a point is labelled 1 inside a
window) and event-wise, each alarm (a run of alerting points) counted once: it is false if it
touches no window, and detects at most one window (see :mod:`detectors.evaluation`).

The steps, one module each, in the data's order:

- :mod:`app.backtest.inputs`: reading the inputs (the series, the labels, the configuration, the
  result name) and the error every input problem raises;
- :mod:`app.backtest.scoring`: scoring one series and judging its alerts (the metrics);
- :mod:`app.backtest.run`: running over a folder (in parallel), writing the result files, and
  printing the report and the progress.
"""
