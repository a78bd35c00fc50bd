"""What the API enforces: its keys, the body limit and the scoring rate, built once at start-up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.limits import MIB
from api.security import KeyRing

DEFAULT_MAX_BODY_BYTES = 32 * MIB
DEFAULT_SCORE_RATE_PER_S = 20.0
DEFAULT_SCORE_BURST = 40


@dataclass(frozen=True)
class ApiOptions:
    """The API's protections. ``keys`` holds hashes only; ``clock`` drives the rate limit.

    Examples
    --------
    >>> options = ApiOptions.from_settings(None)
    >>> options.keys.configured, options.max_body_bytes
    (False, 33554432)
    """

    keys: KeyRing = field(default_factory=KeyRing)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    score_rate_per_s: float = DEFAULT_SCORE_RATE_PER_S
    score_burst: int = DEFAULT_SCORE_BURST
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_settings(cls, settings: Any) -> ApiOptions:
        """From the app's settings (fields ``admin_key``, ``read_key``, ``max_body_bytes``,
        ``score_rate_per_s``, ``score_burst``); defaults for what it lacks. The keys are hashed
        here; nothing of this object holds a key."""
        if settings is None:
            return cls()
        return cls(
            keys=KeyRing.from_text(
                _secret(getattr(settings, "admin_key", "")),
                _secret(getattr(settings, "read_key", "")),
            ),
            max_body_bytes=int(getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
            score_rate_per_s=float(getattr(settings, "score_rate_per_s", DEFAULT_SCORE_RATE_PER_S)),
            score_burst=int(getattr(settings, "score_burst", DEFAULT_SCORE_BURST)),
        )


def _secret(value: Any) -> str:
    """A setting's text, whether plain or a pydantic ``SecretStr``."""
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return str(value or "")
