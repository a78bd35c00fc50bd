"""Incidents: the scoring step, the pipeline, lifecycles, insights and notifications."""

import detectors.kernel  # noqa: F401  (first: the compiled modules, when built)
