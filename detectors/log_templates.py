"""Log message templates and error levels: the variable parts of a message masked, so that
messages of one kind share a template (see :mod:`detectors.log_features`)."""

from __future__ import annotations

import re

from detectors.base import DetectorError

#: Levels (case-insensitive) that count as errors; ``emerg`` is syslog's spelling of emergency.
ERROR_LEVELS = frozenset(
    {"error", "err", "critical", "crit", "fatal", "alert", "emergency", "emerg"}
)
#: Templates are cut to this many characters.
MAX_TEMPLATE_CHARS = 200

_HEX4 = r"[0-9A-Fa-f]{1,4}"
# (needles, pattern, placeholder), applied in order; a rule runs only if one of its needles
# is in the text. Placeholders hold no digits, so later rules leave them alone.
_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # URL query strings (the path is kept; numbers in it are masked later).
    (("://",), re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#\"']*)\?[^\s#\"']*"), r"\1?<query>"),
    # Quoted strings, unless they are keys ("key": value).
    (('"',), re.compile(r'(?<!\w)"(?:[^"\\\n]|\\.)*"(?!\w)(?!\s*:)'), "<str>"),
    (("'",), re.compile(r"(?<!\w)'(?:[^'\\\n]|\\.)*'(?!\w)(?!\s*:)"), "<str>"),
    (("@",), re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b"), "<email>"),
    (
        ("-",),
        re.compile(
            r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b"
        ),
        "<uuid>",
    ),
    # IPv6: bracketed with an optional port, full eight groups, or compressed with "::".
    (("[",), re.compile(r"\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?"), "<ip>"),
    ((":",), re.compile(rf"(?<![\w:])(?:{_HEX4}:){{7}}{_HEX4}(?![\w:])"), "<ip>"),
    (
        ("::",),
        re.compile(
            rf"(?<![\w:])(?=[0-9A-Fa-f:]*[0-9A-Fa-f])(?:{_HEX4}(?::{_HEX4})*)?::"
            rf"(?:{_HEX4}(?::{_HEX4})*)?(?![\w:])"
        ),
        "<ip>",
    ),
    ((".",), re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"), "<ip>"),
    # base64 / base64url tokens: 20+ characters mixing upper case, lower case and digits
    # (not starting with "/", so an absolute path stays a path), with any ".part" after it
    # (a JWT is three base64url parts).
    (
        ("",),
        re.compile(
            r"(?<![\w+/-])(?!/)(?=[\w+/-]*[A-Z])(?=[\w+/-]*[a-z])(?=[\w+/-]*\d)"
            r"[A-Za-z0-9+/_-]{20,}(?:\.[A-Za-z0-9+/_-]+)*={0,2}(?![\w+/=-])"
        ),
        "<blob>",
    ),
    (("0x", "0X"), re.compile(r"\b0[xX][0-9A-Fa-f]+\b"), "<hex>"),
    (("",), re.compile(r"\b(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{8,}\b"), "<hex>"),
    # Numbers, also inside words and before units (3012ms, user42, v1.2).
    (("",), re.compile(r"(?:(?<![\w)])-)?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<num>"),
)


def template(message: str) -> str:
    """Mask the variable parts of a log message; messages of one kind share a template.

    Masked, in this order: URL query strings (``?<query>``), quoted strings that are not keys
    (``<str>``), e-mail addresses, UUIDs, IPv6 and IPv4 addresses with an optional port
    (``<ip>``), base64-ish tokens of 20+ characters mixing upper case, lower case and digits,
    not starting with ``/``, with any ``.part`` after them (JWTs) (``<blob>``), ``0x`` hex numbers and runs of 8+ hex digits with a
    letter (``<hex>``), then every remaining number, also inside a word or before a unit
    (``<num>``). Runs of whitespace first become one space, and the template is cut to
    :data:`MAX_TEMPLATE_CHARS` characters.

    Examples
    --------
    >>> a = template("timeout after 3012 ms calling 10.0.0.7:8080 req=9f3a2c1e-7b1d-4c55-a0f4-2d9e6b1c0a77")
    >>> b = template("timeout after 87 ms calling 10.0.0.12:443 req=0b4c8e21-55aa-4f0e-9d3c-8a7f6e5d4c3b")
    >>> a == b, a
    (True, 'timeout after <num> ms calling <ip> req=<uuid>')
    >>> template("user 42 logged in") == template("user 43 logged in")
    True
    >>> template("user 42 logged in") == template("user 42 logged out")
    False
    >>> template("GET https://api.example.com/v1/users/1234?page=2&sort=name returned 503 in 1.25s")
    'GET https://api.example.com/v<num>/users/<num>?<query> returned <num> in <num>s'
    >>> template('login failed for "alice" from [2001:db8::1]:443 (mail bob@example.org)')
    'login failed for <str> from <ip> (mail <email>)'
    >>> template("segfault at 0x7ffd5e8b2a10 in worker-3, commit 3f9a1c2b8e, took 3012ms")
    'segfault at <hex> in worker-<num>, commit <hex>, took <num>ms'
    >>> template("bad token eyJhbGciOiJIUzI1NiJ9 for fe80::1ff:fe23:4567:890a")
    'bad token <blob> for <ip>'
    >>> template('{"user": "bob", "retries": 3}')
    '{"user": <str>, "retries": <num>}'
    """
    if not isinstance(message, str):
        raise DetectorError(f"message must be a string, got {message!r}")
    text = " ".join(message.split())
    for needles, pattern, placeholder in _RULES:
        if any(needle in text for needle in needles):
            text = pattern.sub(placeholder, text)
    return text[:MAX_TEMPLATE_CHARS]


def is_error_level(level: str | None) -> bool:
    """Whether a log level counts as an error (see :data:`ERROR_LEVELS`); None is not one.

    Examples
    --------
    >>> [is_error_level(x) for x in ["ERROR", "Crit", "warning", "info", None]]
    [True, True, False, False, False]
    """
    if level is None:
        return False
    if not isinstance(level, str):
        raise DetectorError(f"level must be a string or None, got {level!r}")
    return level.strip().lower() in ERROR_LEVELS
