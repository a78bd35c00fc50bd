"""Log lines as JSON or text (ANOMALY_LOG_FORMAT), still redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.worker.logformat import (
    JsonFormatter,
    TextFormatter,
    install_log_format,
    resolve_format,
)
from app.worker.settings import get_settings
from incidents.log_context import log_context
from incidents.redact import Redactor, install_log_filter, remove_log_filter

SECRET = "https://hooks.example.com/services/T1/B2/s3cr3tT0k3nXYZ"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of its own with no handler, cleaned up after the test."""
    log = logging.getLogger("test.logformat")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    log.handlers.clear()


def attach(logger: logging.Logger, stream: io.StringIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    return handler


def test_a_json_line_carries_the_incident_fields_the_call_gave(logger: logging.Logger) -> None:
    out = io.StringIO()
    attach(logger, out)
    install_log_format("json", logger)
    event = {"incident_id": "inc-1", "model_id": "metrics-v1", "entity": "host-1", "seq": 3}
    logger.info("incident %s open", "inc-1", extra=log_context(event, channel="slack"))
    logger.warning("no context here")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "incident inc-1 open"
    assert first["level"] == "info" and first["logger"] == "test.logformat"
    assert first["time"].endswith("Z") and first["time"][:2] == "20"
    assert {k: first[k] for k in ("incident_id", "model_id", "entity", "channel")} == {
        "incident_id": "inc-1",
        "model_id": "metrics-v1",
        "entity": "host-1",
        "channel": "slack",
    }
    assert "seq" not in first  # only the context fields, not the whole document
    assert set(second) == {"time", "level", "logger", "message"}


def test_an_exception_stays_on_one_json_line(logger: logging.Logger) -> None:
    out = io.StringIO()
    attach(logger, out)
    install_log_format("json", logger)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("delivering %s failed", "inc-1", extra={"incident_id": "inc-1"})
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "error" and record["incident_id"] == "inc-1"
    assert "ValueError: boom" in record["exception"]


def test_a_json_line_is_still_redacted(logger: logging.Logger) -> None:
    out = io.StringIO()
    attach(logger, out)
    install_log_format("json", logger)  # as the worker does: formatter first ...
    redacting = install_log_filter(Redactor([SECRET]), logger)  # ... then the engine's filter
    try:
        try:
            raise RuntimeError(f"POST {SECRET} failed")
        except RuntimeError:
            logger.exception("HTTP Request: POST %s", SECRET, extra={"channel": "slack"})
    finally:
        remove_log_filter(redacting, logger)
    text = out.getvalue()
    assert "s3cr3tT0k3nXYZ" not in text
    record = json.loads(text)
    assert record["message"] == "HTTP Request: POST [redacted]"
    assert "POST [redacted] failed" in record["exception"]


def test_text_is_readable_with_the_context_at_the_end(logger: logging.Logger) -> None:
    out = io.StringIO()
    attach(logger, out)
    install_log_format("text", logger)
    logger.info("incident inc-1 open", extra={"incident_id": "inc-1", "model_id": "m"})
    line = out.getvalue().strip()
    assert " INFO    test.logformat: incident inc-1 open  incident_id=inc-1 model_id=m" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_auto_is_text_on_a_terminal_and_json_elsewhere(logger: logging.Logger) -> None:
    on_terminal, on_pipe = attach(logger, Terminal()), attach(logger, io.StringIO())
    install_log_format("auto", logger)
    assert isinstance(on_terminal.formatter, TextFormatter)
    assert isinstance(on_pipe.formatter, JsonFormatter)
    assert resolve_format("auto", None) == "json"


def test_the_setting_takes_the_three_formats_and_refuses_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANOMALY_LOG_FORMAT", "json")
    assert get_settings().log_format == "json"
    monkeypatch.setenv("ANOMALY_LOG_FORMAT", "yaml")
    with pytest.raises(ValueError, match="log_format"):
        get_settings()
    monkeypatch.delenv("ANOMALY_LOG_FORMAT")
    assert get_settings().log_format == "auto"
