"""A model's configuration as the engine runs it: detector spec, features, cooldown, channels.

The REST API validates the configuration payload and stores it as JSON on the config topic; every
worker turns that JSON back into a :class:`ModelConfig` with :meth:`ModelConfig.from_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors import DetectorError, ModelSpec
from detectors.seasonal_config import seasonality_params
from detectors.suppression import SuppressionSpec
from incidents.explain import signal_name
from incidents.insights import ForecastSpec
from incidents.observation import LifecycleSpec
from incidents.recommended import with_recommended

ALERT_CHANNELS = ("pagerduty", "slack", "webhook", "alertmanager")
SILENT_AFTER = 3600.0  # seconds of the worker's clock without a message: an incident resolves
STATE_TTL = 7 * 86400.0  # seconds of the worker's clock without a message: a key's state goes
STREAMS = ("metrics", "logs", "behavior")


@dataclass(frozen=True)
class ModelConfig:
    """One model: what to score with, and how anomalies become incidents.

    ``cooldown`` is in seconds of event time: after an incident opens for a (model, entity), no
    second one opens for that pair until a point at least ``cooldown`` seconds later (by its
    ``ts``) alerts. ``resolve_after``, ``recover_ratio`` and ``group_window`` drive the lifecycle
    (see ``incidents.lifecycle``), ``suppression`` which flagged points alert (see
    ``detectors.suppression``). ``seasonality`` (None, ``{"period": "auto"}`` or ``{"period":
    seconds, "bins": n}``, see ``detectors.seasonality``) is what each entity's values are
    scored against a seasonal profile of. A new ``model_version`` resets every entity's state
    for the model; the same version keeps it.

    ``silent_after`` and ``state_ttl`` are seconds of the worker's clock (not event time) since
    the last message received for the entity: an open incident of the model resolves (reason
    ``silent``) once its entity has sent nothing for ``silent_after``, and the model's state of
    an entity goes once it has sent nothing for ``state_ttl`` (see ``app.worker.expiry``); an entity
    that has sent the model nothing for ``expect_every`` gets a "went silent" incident (see
    ``incidents.absence``). 0 turns any of them off (``expect_every`` is off by default).

    Examples
    --------
    >>> cfg = ModelConfig.from_dict({"model_id": "m", "model_version": "1", "detector": "zscore",
    ...                              "params": {"mean": [100, 5], "std": [5, 1]}})
    >>> cfg.n_features, cfg.feature_names
    (2, ['feature_0', 'feature_1'])
    >>> cfg.spec(2).detector
    'zscore'
    >>> ModelConfig.from_dict({"model_id": "m", "detector": "ewma", "seasonality": "auto"}).seasonality
    {'period': 'auto'}
    >>> ModelConfig.from_dict({"model_id": "m", "detector": "ewma", "state_ttl": -1})
    Traceback (most recent call last):
    ...
    detectors.base.DetectorError: state_ttl must be 0 (off) or a positive number of seconds, got -1.0
    """

    model_id: str
    model_version: str
    detector: str
    params: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] | None = None
    threshold_strategy: str = "static"
    adaptive_sensitivity: float = 3.0
    history_window: int = 64
    warmup: int | None = None
    alerts_per_day: float = 1.0
    cooldown: float = 0.0
    alert_channels: tuple[str, ...] = ()
    stream: str = "metrics"
    suppression: SuppressionSpec = field(default_factory=SuppressionSpec)
    resolve_after: float = 300.0
    recover_ratio: float = 0.8
    group_window: float = 300.0
    forecast: ForecastSpec = field(default_factory=ForecastSpec)
    log_window: float = 60.0
    seasonality: Mapping[str, Any] | None = None
    silent_after: float = SILENT_AFTER
    state_ttl: float = STATE_TTL
    expect_every: float = 0.0
    # Collector formats (app.telemetry.formats): the attributes that name a point's entity, first
    # present wins (None: the format's defaults), and the features that are cumulative counters.
    entity_from: tuple[str, ...] | None = None
    counters: tuple[str, ...] = ()
    # Which labels name a series (None: all but the entity's; (): none), which samples count
    # (label values that must match), and how many series one entity may have per model.
    split_by: tuple[str, ...] | None = None
    where: Mapping[str, str] = field(default_factory=dict)
    max_series_per_entity: int = 100
    # Specs built so far, by feature count: a spec checks itself by building a detector, which
    # cost a single-point message about a tenth of its scoring.
    _specs: dict[int, ModelSpec] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # Built once, read by every scoring step (a single-point message built one of each before).
    _derived: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Build from the stored JSON (already validated by the API); without ``detector``, the
        recommended model (:mod:`incidents.recommended`)."""
        data = with_recommended(data)
        features = data.get("features")
        return cls(
            model_id=str(data["model_id"]),
            model_version=str(data.get("model_version", "1")),
            detector=str(data["detector"]),
            params=dict(data.get("params") or {}),
            features=tuple(features) if features else None,
            threshold_strategy=str(data.get("threshold_strategy", "static")),
            adaptive_sensitivity=float(data.get("adaptive_sensitivity", 3.0)),
            history_window=int(data.get("history_window", 64)),
            warmup=data.get("warmup"),
            alerts_per_day=float(data.get("alerts_per_day", 1.0)),
            cooldown=float(data.get("cooldown", 0.0)),
            alert_channels=tuple(data.get("alert_channels") or ()),
            stream=str(data.get("stream", "metrics")),
            suppression=SuppressionSpec.from_dict(data.get("suppression")),
            resolve_after=float(data.get("resolve_after", 300.0)),
            recover_ratio=float(data.get("recover_ratio", 0.8)),
            group_window=float(data.get("group_window", 300.0)),
            forecast=ForecastSpec.from_dict(data.get("forecast")),
            log_window=float(data.get("log_window", 60.0)),
            seasonality=seasonality_params(data.get("seasonality")),
            silent_after=float(data.get("silent_after", SILENT_AFTER)),
            state_ttl=float(data.get("state_ttl", STATE_TTL)),
            expect_every=float(data.get("expect_every", 0.0)),
            entity_from=tuple(data["entity_from"]) if data.get("entity_from") else None,
            counters=tuple(data.get("counters") or ()),
            split_by=tuple(data["split_by"]) if data.get("split_by") is not None else None,
            where=dict(data.get("where") or {}),
            max_series_per_entity=int(data.get("max_series_per_entity", 100)),
        )

    def __post_init__(self) -> None:
        for name in ("silent_after", "state_ttl", "expect_every"):
            value = getattr(self, name)
            if not value >= 0 or value == float("inf"):
                raise DetectorError(
                    f"{name} must be 0 (off) or a positive number of seconds, got {value}"
                )

    @property
    def configured_id(self) -> str:
        """The configuration's model id: a series of it (``m{cpu=cpu0}``, see
        ``app.telemetry.formats.route``) is scored under its own id, but counted under this one.

        >>> ModelConfig("m{cpu=cpu0}", "1", "zscore").configured_id
        'm'
        """
        return self.model_id.split("{", 1)[0]

    @property
    def lifecycle(self) -> LifecycleSpec:
        """The lifecycle settings (built once: a LifecycleSpec is immutable).

        >>> config = ModelConfig("m", "1", "zscore", cooldown=5.0)
        >>> config.lifecycle is config.lifecycle, config.lifecycle.cooldown
        (True, 5.0)
        """
        spec = self._derived.get("lifecycle")
        if spec is None:
            spec = self._derived["lifecycle"] = LifecycleSpec(
                cooldown=self.cooldown,
                resolve_after=self.resolve_after,
                recover_ratio=self.recover_ratio,
                group_window=self.group_window,
            )
        return spec

    @property
    def n_features(self) -> int | None:
        """The feature count the configuration fixes, or None when the first point decides."""
        if self.features:
            return len(self.features)
        for name in ("mean", "std"):
            values = self.params.get(name)
            if isinstance(values, list | tuple):
                return len(values)
        return None

    @property
    def feature_names(self) -> list[str]:
        if self.features:
            return list(self.features)
        return [f"feature_{i}" for i in range(self.n_features or 0)]

    def names_for(self, n_features: int) -> list[str]:
        """Feature names for points of ``n_features`` values."""
        if self.features and len(self.features) == n_features:
            return list(self.features)
        return [f"feature_{i}" for i in range(n_features)]

    def signal_names(self, source: str, n_features: int) -> tuple[list[str], list[str]]:
        """:meth:`names_for` and each name's signal on ``source``
        (:func:`incidents.explain.signal_name`), built once per source and feature count: the
        callers read the lists and must not change them.

        >>> config = ModelConfig("m", "1", "zscore")
        >>> config.signal_names("telemetry.metrics", 2)
        (['feature_0', 'feature_1'], ['metrics:m:feature_0', 'metrics:m:feature_1'])
        >>> config.signal_names("s", 1) is config.signal_names("s", 1)
        True
        """
        key = ("signals", source, n_features)
        named = self._derived.get(key)
        if named is None:
            names = self.names_for(n_features)
            series = [signal_name(source, self.model_id, name) for name in names]
            named = self._derived[key] = (names, series)
        return named

    def spec(self, n_features: int) -> ModelSpec:
        """The detector spec for points of ``n_features`` values (raises DetectorError); built
        once per feature count (a ModelSpec is immutable).

        >>> config = ModelConfig("m", "1", "zscore", {"threshold": 3.0})
        >>> config.spec(2) is config.spec(2), config.spec(2) is config.spec(3)
        (True, False)
        """
        spec = self._specs.get(n_features)
        if spec is None:
            spec = self._specs[n_features] = self._build_spec(n_features)
        return spec

    def _build_spec(self, n_features: int) -> ModelSpec:
        expected = self.n_features
        if expected is not None and expected != n_features:
            raise DetectorError(
                f"model {self.model_id!r} expects {expected} values per point, got {n_features}"
            )
        return ModelSpec(
            detector=self.detector,
            params=dict(self.params),
            n_features=n_features,
            threshold_strategy=self.threshold_strategy,
            adaptive_sensitivity=self.adaptive_sensitivity,
            history_window=self.history_window,
            warmup=self.warmup,
            seasonality=None if self.seasonality is None else dict(self.seasonality),
            alerts_per_day=self.alerts_per_day,
        )


def configs_in(document: Any) -> list[Any]:
    """The configurations a JSON document holds: ``{"configs": [...]}`` as ``POST /anomaly/config``
    takes it, one configuration object, or a list of them (``config get`` prints such a list).

    Each is returned as it is, for the caller to validate.

    >>> configs_in({"configs": [{"model_id": "a"}]}), configs_in({"model_id": "a"})
    ([{'model_id': 'a'}], [{'model_id': 'a'}])
    >>> configs_in([{"model_id": "a"}, {"model_id": "b"}])
    [{'model_id': 'a'}, {'model_id': 'b'}]
    >>> configs_in("zscore")
    Traceback (most recent call last):
    ...
    ValueError: expected {"configs": [...]}, one configuration object, or a list of them
    """
    if isinstance(document, dict) and "configs" in document:
        configs = document["configs"]
        if not isinstance(configs, list):
            raise ValueError('"configs" must be a list of configuration objects')
        return configs
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        return document
    raise ValueError('expected {"configs": [...]}, one configuration object, or a list of them')
