"""The engine's settings, read from the environment (and an optional `.env` file).

Every name the engine reads is listed here, with its default; `docker-compose.yml` and the README
name the same variables, and a test checks that they agree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["crit", "error", "warn", "info", "debug"]


class Settings(BaseSettings):
    """Engine settings. Build with :func:`get_settings`, never at import time."""

    model_config = SettingsConfigDict(env_prefix="ANOMALY_", frozen=True, extra="ignore")

    # Broker. Empty means: start an embedded broker on a loopback port (app/worker/kafka/embedded.py):
    # Apache Kafka when Java 17+ is present, else Tansu; ANOMALY_BROKER=kafka|tansu forces one.
    kafka_bootstrap_servers: str = Field(default="", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    embedded_broker_port: int = 9092
    broker: Literal["auto", "kafka", "tansu"] = "auto"

    app_id: str = "anomaly-engine"
    partitions: int = Field(default=4, ge=1, le=256)
    # Replicas of every topic the engine creates (its own and Faust's); 3 on a production cluster,
    # with the broker's min.insync.replicas at 2 (the engine produces with acks=all).
    replication_factor: int = Field(default=1, ge=1)
    store: str = "memory://"
    data_dir: str = ""  # default: ./.anomaly-data/<app_id>-<api_port>
    log_level: LogLevel = "info"
    log_format: Literal["json", "text", "auto"] = "auto"  # auto: text on a terminal, else JSON

    # Topic names.
    metrics_topic: str = "telemetry.metrics"
    logs_topic: str = "telemetry.logs"
    behavior_topic: str = "telemetry.behavior"
    alerts_topic: str = "anomaly.alerts"
    config_topic: str = "anomaly.config"
    dlq_topic: str = "anomaly.dlq"
    score_requests_topic: str = "anomaly.score-requests"
    silences_topic: str = "anomaly.silences"
    # The telemetry topics' format when a message has no telemetry-format header: "auto" sniffs
    # each message (app.telemetry.formats.sniff), or one of otlp_proto, otlp_json, prometheus,
    # influx, loglines, engine.
    metrics_format: str = "auto"
    logs_format: str = "auto"

    # REST API, served from inside the worker.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)

    # Limits.
    max_points_per_request: int = Field(default=100_000, ge=1)
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    alerts_retained: int = Field(default=10_000, ge=1)
    request_timeout_s: float = Field(default=30.0, gt=0)

    # Alert channels. Secrets: never returned by the API nor written to a log line (redacted).
    pagerduty_routing_key: str = ""
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    slack_webhook_url: str = ""
    webhook_url: str = ""
    webhook_headers: str = ""  # a JSON object of extra headers, e.g. {"Authorization": "Bearer x"}
    alertmanager_url: str = ""
    alertmanager_generator_url: str = ""
    slack_include_updates: bool = False
    webhook_include_updates: bool = False
    delivery_retry_base_s: float = Field(default=1.0, gt=0)
    delivery_timeout_s: float = Field(default=10.0, gt=0)
    delivery_max_attempts: int = Field(default=12, ge=1)
    delivery_max_delay_s: float = Field(default=300.0, gt=0)
    slack_interval_s: float = Field(default=1.0, ge=0)
    # The deliveries ledger (incidents/notify/dispatcher.py): rows older than this go, and the oldest beyond
    # the cap per worker (app/worker/sweeper.py).
    ledger_retention_s: float = Field(default=7 * 86400.0, gt=0)
    ledger_max_rows: int = Field(default=100_000, ge=1)

    # A telemetry agent takes up to this many messages at once, waiting at most this long for
    # more, and writes each key's row and counters once per batch (see app/worker/pending_writes.py).
    stream_batch_max: int = Field(default=500, ge=1)
    stream_batch_wait_s: float = Field(default=0.005, gt=0)
    # The agents' rows and counters go to their changelogs once per this interval, however many
    # batches changed them (app/worker/write_back.py); 0 writes them after every batch.
    state_flush_interval_s: float = Field(default=1.0, ge=0)

    # Latency tuning for brokers that hold an empty fetch for its whole wait (the embedded one).
    fetch_max_wait_ms: int = Field(default=10, ge=1)
    rebalance_timeout_s: float = Field(default=3.0, gt=0)
    session_timeout_s: float = Field(default=6.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)

    # REST API protection. Keys: comma-separated lists, for `Authorization: Bearer <key>`; the API
    # keeps only their SHA-256 hashes. No key at all: read endpoints are open and write endpoints
    # (configuration, silences) answer loopback clients only.
    admin_key: SecretStr = SecretStr("")
    read_key: SecretStr = SecretStr("")
    # 100k points of 2 named features, ISO timestamps, labels, pretty-printed: 18 MB.
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    score_rate_per_s: float = Field(default=20.0, gt=0)  # per API key, else per client address
    score_burst: int = Field(default=40, ge=1)
    audit_topic: str = "anomaly.audit"

    @property
    def telemetry_topics(self) -> tuple[str, str, str]:
        return (self.metrics_topic, self.logs_topic, self.behavior_topic)

    def channel_settings(self) -> dict[str, str]:
        """The alert channels' settings, for ``incidents.notify.channels.build_channels``."""
        names = (
            "pagerduty_routing_key",
            "pagerduty_url",
            "slack_webhook_url",
            "webhook_url",
            "webhook_headers",
            "alertmanager_url",
            "alertmanager_generator_url",
        )
        found = {name: getattr(self, name) for name in names if getattr(self, name)}
        for flag in ("slack_include_updates", "webhook_include_updates"):
            found[flag] = "true" if getattr(self, flag) else "false"
        found["slack_interval_s"] = repr(self.slack_interval_s)
        return found

    def api_keys(self) -> list[str]:
        """The admin and read API keys (each setting a comma-separated list)."""
        return [*keys_in(self.admin_key), *keys_in(self.read_key)]


def keys_in(secret: SecretStr) -> list[str]:
    """The keys of a comma-separated key setting, blanks dropped.

    Examples
    --------
    >>> keys_in(SecretStr(" k1 , ,k2,"))
    ['k1', 'k2']
    """
    return [key.strip() for key in secret.get_secret_value().split(",") if key.strip()]


def get_settings(**overrides: object) -> Settings:
    """Read the settings from the environment; keyword arguments override it."""
    return Settings(**overrides)  # type: ignore[arg-type]
