"""Keep channel secrets (routing keys, webhook URLs, header tokens) out of logs and error text.

A :class:`Redactor` knows the configured secrets and replaces each of them, wherever it appears in
a text, by ``[redacted]``. Besides the secret as written it replaces the forms a secret takes on
its way through HTTP libraries and servers: percent-encoded (upper and lower case hex, ``+`` for
spaces), JSON-escaped slashes, and for a URL its parts that identify it on their own: the URL
without its scheme, the path with its query, the query, the password of ``user:password@``, and
the token-like parts a receiver's error message may quote alone: each query value and each path
segment that looks like a credential (:func:`token_like`: the last segment of a Slack webhook
URL, a ``?token=`` value). Secrets shorter than :data:`MIN_SECRET_LENGTH` characters are ignored,
because replacing every ``"ab"`` in a log would make it unreadable while protecting nothing.

:func:`install_log_filter` applies a redactor to every record the root logger's handlers emit,
including records from libraries such as ``httpx``, which logs each request URL at INFO level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

REDACTED = "[redacted]"

MIN_SECRET_LENGTH = 4

_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _encoded_forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= {_PERCENT.sub(lambda m: m.group().lower(), form) for form in list(forms)}
    forms |= {form.replace("/", "\\/") for form in list(forms)}
    return forms


def token_like(part: str) -> bool:
    """Whether a URL's path segment or query value looks like a credential: at least 8
    characters mixing letters and digits, or at least 20 characters.

    >>> [token_like(p) for p in ("s3cr3tT0k3nXYZ", "services", "T0001", "hook", "v2")]
    [True, False, False, False, False]
    """
    if len(part) >= 20:
        return True
    return len(part) >= 8 and any(c.isdigit() for c in part) and any(c.isalpha() for c in part)


def _url_parts(secret: str) -> set[str]:
    """The parts of a URL that identify it on their own (empty for a non-URL)."""
    if "://" not in secret:
        return set()
    try:
        parts = urlsplit(secret)
    except ValueError:
        return set()
    found = {secret.split("://", 1)[1]}
    path_query = parts.path + ("?" + parts.query if parts.query else "")
    if path_query not in ("", "/"):
        found.add(path_query)
    if parts.path not in ("", "/"):
        found.add(parts.path)
    if parts.query:
        found.add(parts.query)
    segments = [unquote(segment) for segment in parts.path.split("/")]
    values = [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
    found |= {part for part in segments + values if token_like(part)}
    try:
        password = parts.password
    except ValueError:
        password = None
    if password:
        found.add(password)
    return found


class Redactor:
    """Replaces configured secrets in text by ``[redacted]``.

    Examples
    --------
    >>> r = Redactor(["R0UTINGKEY123", "https://hooks.example.com/services/T1/B2/xyz?token=abc"])
    >>> r.redact("POST failed for key R0UTINGKEY123")
    'POST failed for key [redacted]'
    >>> r.redact("url=https%3A%2F%2Fhooks.example.com%2Fservices%2FT1%2FB2%2Fxyz%3Ftoken%3Dabc")
    'url=[redacted]'
    >>> r.redact('"POST /services/T1/B2/xyz?token=abc HTTP/1.1" 404')
    '"POST [redacted] HTTP/1.1" 404'
    >>> slack = Redactor(["https://hooks.example.com/services/T1/B2/s3cr3tT0k3nXYZ"])
    >>> slack.redact("invalid_token s3cr3tT0k3nXYZ for /services")
    'invalid_token [redacted] for /services'
    >>> Redactor(["https://example.com/hook?token=w3bh00kT0k3n"]).redact("bad token w3bh00kT0k3n")
    'bad token [redacted]'
    >>> r.redact("nothing to hide")
    'nothing to hide'
    >>> Redactor(["ab"]).redact("abc")
    'abc'
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        needles: set[str] = set()
        for secret in secrets:
            if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
                continue
            for part in {secret} | _url_parts(secret):
                if len(part) >= MIN_SECRET_LENGTH:
                    needles |= _encoded_forms(part)
        # Longest first, so a whole URL is replaced before its path can match inside it.
        ordered = sorted(needles, key=lambda s: (-len(s), s))
        self._count = len(ordered)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact(self, text: str) -> str:
        """``text`` with every configured secret (in every known form) replaced."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def __repr__(self) -> str:
        return f"Redactor({self._count} patterns)"


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's message, arguments and exception text in place.

    The record leaves with its message formatted and redacted, and no arguments:

    >>> record = logging.LogRecord("httpx", logging.INFO, "", 0, "POST %s", ("R0UTINGKEY123",), None)
    >>> RedactingFilter(Redactor(["R0UTINGKEY123"])).filter(record), record.msg, record.args
    (True, 'POST [redacted]', ())
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose args do not fit its format: keep both, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redactor.redact(message)
        # An empty tuple, not None: Faust's (mode's) formatter turns None into (None,), and
        # "%" formatting of the already formatted message with it fails with a logging error.
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


def install_log_filter(redactor: Redactor, logger: logging.Logger | None = None) -> RedactingFilter:
    """Add a :class:`RedactingFilter` to ``logger`` (the root logger) and each of its handlers.

    Handler filters see the records of every child logger that propagates to the root, so call
    this after logging is configured; handlers added later are not covered. Returns the filter,
    for :func:`remove_log_filter`.
    """
    target = logger if logger is not None else logging.getLogger()
    log_filter = RedactingFilter(redactor)
    target.addFilter(log_filter)
    for handler in target.handlers:
        handler.addFilter(log_filter)
    return log_filter


def remove_log_filter(log_filter: RedactingFilter, logger: logging.Logger | None = None) -> None:
    """Undo :func:`install_log_filter`."""
    target = logger if logger is not None else logging.getLogger()
    target.removeFilter(log_filter)
    for handler in target.handlers:
        handler.removeFilter(log_filter)
