"""Bounded exponential backoff with jitter that honours ``Retry-After``.

The delay before retry number ``attempt`` (1 after the first failed attempt) is::

    backoff = min(max_delay, base * factor ** (attempt - 1))
    delay   = backoff * (1 - jitter * u)        u uniform in [0, 1) from the injected rng

This is *proportional* jitter: each delay lies in ``[(1 - jitter) * backoff, backoff]``. With
``jitter=1`` it is the "Full Jitter" of AWS's article "Exponential Backoff and Jitter" (Marc Brooker,
2015), which spreads many competing clients best; the default ``0.2`` keeps a predictable schedule
for a dispatcher that is the only client of most of its receivers while still de-synchronising
workers, and never retries a failing receiver almost immediately as full jitter can.

When the receiver sent ``Retry-After``, the delay is never shorter than it; a ``Retry-After`` above
``max_retry_after`` (1 hour) is cut to that, so a hostile or broken header cannot stall delivery
forever.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from incidents.notify.channels.base import DeliveryResult


@dataclass(frozen=True)
class RetryPolicy:
    """When and whether to retry a failed delivery.

    Examples
    --------
    >>> policy = RetryPolicy(base=1.0, factor=2.0, max_delay=300.0, jitter=0.0)
    >>> [policy.delay(n, None, random.Random(0)) for n in (1, 2, 3, 10, 50)]
    [1.0, 2.0, 4.0, 300.0, 300.0]
    >>> policy.delay(1, retry_after=30.0, rng=random.Random(0))
    30.0
    >>> policy.delay(1, retry_after=10 ** 9, rng=random.Random(0))
    3600.0
    >>> round(RetryPolicy(jitter=0.2).delay(3, None, random.Random(0)), 4)
    3.3245
    >>> limited = RetryPolicy(max_attempts=3)
    >>> failed = DeliveryResult(ok=False, retryable=True, status=503, retry_after=None, detail="")
    >>> [limited.should_retry(failed, attempt) for attempt in (1, 2, 3)]
    [True, True, False]
    """

    base: float = 1.0
    factor: float = 2.0
    max_delay: float = 300.0
    max_attempts: int | None = None
    jitter: float = 0.2
    max_retry_after: float = 3600.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base) and self.base > 0):
            raise ValueError(f"base must be a positive number of seconds, got {self.base}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be at least 1, got {self.factor}")
        if not (math.isfinite(self.max_delay) and self.max_delay >= self.base):
            raise ValueError(f"max_delay must be at least base ({self.base}), got {self.max_delay}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 or None, got {self.max_attempts}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if not (math.isfinite(self.max_retry_after) and self.max_retry_after >= 0):
            raise ValueError(
                f"max_retry_after must be a non-negative number of seconds, got {self.max_retry_after}"
            )

    def backoff(self, attempt: int) -> float:
        """The delay before jitter: ``min(max_delay, base * factor ** (attempt - 1))``."""
        exponent = max(0, attempt - 1)
        if self.factor == 1.0:
            return min(self.max_delay, self.base)
        # Past this exponent the cap applies; comparing logs avoids a float overflow.
        if exponent >= math.log(self.max_delay / self.base, self.factor):
            return self.max_delay
        return min(self.max_delay, self.base * self.factor**exponent)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retrying after failed attempt number ``attempt`` (from 1)."""
        delay = self.backoff(attempt) * (1.0 - self.jitter * rng.random())
        if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
            delay = max(delay, min(retry_after, self.max_retry_after))
        elif retry_after is not None and retry_after == math.inf:
            delay = max(delay, self.max_retry_after)
        return delay

    def should_retry(self, result: DeliveryResult, attempt: int) -> bool:
        """Whether to try again after ``attempt`` attempts ended in ``result``."""
        if result.ok or not result.retryable:
            return False
        return self.max_attempts is None or attempt < self.max_attempts
