"""Whether a model configuration can run: the checks beyond each field's own type and range."""

from __future__ import annotations

from detectors import DETECTORS, DetectorError
from detectors.log_features import FEATURES as LOG_FEATURES
from incidents import behavior
from incidents.config import ModelConfig

GRAPH_DETECTOR = "graph_rarity"


def known_detectors() -> list[str]:
    return sorted([*DETECTORS, GRAPH_DETECTOR])


def validate(config: ModelConfig) -> None:
    """Raise DetectorError with a sentence when ``config`` cannot run.

    Examples
    --------
    >>> validate(ModelConfig("m", "1", "zscore", {"mean": [1.0], "std": [0.0]}))
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: std[0] must be positive, got 0.0
    >>> validate(ModelConfig("m", "1", "graph_rarity", stream="metrics"))
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: detector 'graph_rarity' scores behaviour events: set "stream": "behavior"
    """
    if config.detector == GRAPH_DETECTOR:
        if config.stream != "behavior":
            raise DetectorError(
                'detector \'graph_rarity\' scores behaviour events: set "stream": "behavior"'
            )
        behavior.validate(config)
        return
    if config.stream == "behavior":
        raise DetectorError(
            f"behaviour events are scored by detector 'graph_rarity', not {config.detector!r}"
        )
    n_features = config.n_features
    if config.stream == "logs":
        if config.features and tuple(config.features) != LOG_FEATURES:
            raise DetectorError(
                "a logs model's features are " + ", ".join(LOG_FEATURES) + "; leave features out"
            )
        n_features = len(LOG_FEATURES)
        if config.log_window <= 0:
            raise DetectorError(f"log_window must be positive, got {config.log_window}")
    config.spec(n_features or 1)
