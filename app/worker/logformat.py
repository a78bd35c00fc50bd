"""Log lines as JSON (for a log pipeline) or readable text (for a terminal).

``ANOMALY_LOG_FORMAT`` is ``json``, ``text`` or ``auto`` (the default: text when the log stream is a
terminal, else JSON). Faust (mode) configures logging when its worker starts; :class:`EngineWorker`
puts the chosen formatter on the root logger's handlers right after that, before the first record
of the engine, and the engine's redacting filter (``incidents.redact``, installed at start-up)
still redacts each record before any formatter sees it.

A JSON line always has ``time`` (ISO-8601 UTC), ``level``, ``logger`` and ``message``; then, when
the log call gave them with ``extra=`` (see :func:`incidents.log_context.log_context`), the :data:`CONTEXT_FIELDS`; and
``exception`` with the traceback, when there is one:

>>> import logging
>>> record = logging.LogRecord("app.engine", logging.INFO, "", 0, "incident %s open", ("inc-1",),
...     None)
>>> record.created = 1795766440.0
>>> from incidents.log_context import log_context
>>> record.__dict__.update(log_context({"incident_id": "inc-1", "model_id": "m", "entity": "h"}))
>>> print(JsonFormatter().format(record))
{"time":"2026-11-27T08:00:40.000Z","level":"info","logger":"app.engine","message":"incident inc-1 open","incident_id":"inc-1","model_id":"m","entity":"h"}
>>> TextFormatter().format(record)[23:]
' INFO    app.engine: incident inc-1 open  incident_id=inc-1 model_id=m entity=h'
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from faust import Worker

from app.worker.gc_policy import freeze_startup_heap
from incidents.log_context import CONTEXT_FIELDS
from incidents.redact import Redactor, install_log_filter

FORMATS = ("json", "text", "auto")


def _context(record: logging.LogRecord) -> dict[str, Any]:
    fields = record.__dict__
    return {name: fields[name] for name in CONTEXT_FIELDS if fields.get(name) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(document, default=str).decode()


class TextFormatter(logging.Formatter):
    """``2026-11-27 08:00:40.000 INFO    app.engine: message  incident_id=… model_id=…``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s")
        self.datefmt = "%Y-%m-%d %H:%M:%S"

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = _context(record)
        if not context:
            return text
        pairs = " ".join(f"{name}={value}" for name, value in context.items())
        head, sep, tail = text.partition("\n")  # after the message, before a traceback
        return f"{head}  {pairs}{sep}{tail}"


def resolve_format(name: str, stream: IO[str] | None) -> str:
    """``json`` or ``text``: ``auto`` is text on a terminal, else JSON.

    >>> import io
    >>> resolve_format("auto", io.StringIO()), resolve_format("text", None)
    ('json', 'text')
    """
    if name not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {name!r}")
    if name != "auto":
        return name
    try:
        return "text" if stream is not None and stream.isatty() else "json"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return "json"


def console_line(message: str, name: str, stream: IO[str] | None) -> str:
    """``message`` as a line of the log format ``name`` for ``stream``, for the few lines
    written before Faust sets up logging.

    >>> import io
    >>> console_line("hello", "text", None), console_line("hello", "auto", io.StringIO())[-18:]
    ('hello', '"message":"hello"}')
    """
    if resolve_format(name, stream) != "json":
        return message
    record = logging.LogRecord("app.worker", logging.INFO, __file__, 0, message, (), None)
    return JsonFormatter().format(record)


def install_log_format(name: str, logger: logging.Logger | None = None) -> None:
    """Put the formatter ``name`` chooses on each handler of ``logger`` (the root logger)."""
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        chosen = resolve_format(name, getattr(handler, "stream", None))
        handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())


class EngineWorker(Worker):
    """Faust's worker, with the engine's log format installed once Faust has set up logging,
    and the heap of start-up frozen once it has started (:mod:`app.worker.gc_policy`)."""

    def __init__(
        self,
        *args: Any,
        log_format: str = "auto",
        redactor: Redactor | None = None,
        **kwargs: Any,
    ) -> None:
        self.log_format = log_format
        self.redactor = redactor
        super().__init__(*args, **kwargs)

    def _repr_name(self) -> str:
        return "Worker"  # the log says "[^Worker]: Ready", as with Faust's own worker

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        install_log_format(self.log_format, logger)
        if self.redactor is not None:  # from the first line on: no secret in any log line
            install_log_filter(self.redactor, logger)

    async def on_startup_finished(self) -> None:
        """Tables recovered, agents and API started: what exists now lives as long as the
        worker, so no full collection needs to walk it again."""
        frozen = freeze_startup_heap()
        logging.getLogger(__name__).info(
            "%d objects of start-up frozen out of the collector", frozen
        )
        await super().on_startup_finished()
