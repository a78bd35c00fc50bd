"""The worker: the Faust app, its topics, tables and agents, recovery, the views every worker
reads whole, the timer, metrics and settings; the embedded brokers in :mod:`app.worker.kafka`."""

import detectors.kernel  # noqa: F401  (first: the compiled modules, when built)
