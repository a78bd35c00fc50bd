"""At most one message per ``interval`` per target (Slack: one per second per webhook).

A burst is queued, not dropped: every caller gets a slot, in the order it asked, each slot
``interval`` after the previous one for the same target. Targets are independent: a queue
for one webhook never delays another.

Slots are reserved when :meth:`PerTargetRateLimiter.acquire` is called, before it waits, so
the order is the call order (FIFO) with no lock to hand over. A caller cancelled while waiting
keeps its slot unused, which only ever spaces the next messages further apart, never closer.

Spacing the *starts* of requests is not enough for the receiver: a request that starts on time
but arrives late (a new connection, a slow network) and a next one that arrives at once land
closer together than ``interval`` (0.94 s measured against a loopback receiver). A sender that
calls :meth:`PerTargetRateLimiter.done` when its request has finished gets the next slot at
least ``interval`` after that, so the receiver sees its requests at least ``interval`` apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class PerTargetRateLimiter:
    """Space calls per target by at least ``interval`` seconds of ``clock``.

    Examples
    --------
    >>> import asyncio
    >>> now = [0.0]
    >>> async def fake_sleep(seconds):
    ...     now[0] += seconds
    >>> limiter = PerTargetRateLimiter(1.0, clock=lambda: now[0], sleep=fake_sleep)
    >>> async def burst():
    ...     granted = []
    ...     for _ in range(3):
    ...         await limiter.acquire("slack-a")
    ...         granted.append(now[0])
    ...     await limiter.acquire("slack-b")
    ...     return granted, now[0]
    >>> asyncio.run(burst())
    ([0.0, 1.0, 2.0], 2.0)
    """

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not interval >= 0:
            raise ValueError(f"interval must be a non-negative number of seconds, got {interval}")
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next_slot: dict[str, float] = {}
        self._last_grant: dict[str, float] = {}

    def pending_until(self, target_id: str) -> float:
        """The clock time the next caller for ``target_id`` would be let through."""
        return max(self._clock(), self._next_slot.get(target_id, float("-inf")))

    async def acquire(self, target_id: str) -> None:
        """Return when a message may be sent to ``target_id``."""
        now = self._clock()
        slot = max(now, self._next_slot.get(target_id, now))
        self._next_slot[target_id] = slot + self.interval
        self._forget_idle(now)
        if slot > now:
            await self._sleep(slot - now)
        # A sleep that overran (a loaded machine) let the previous caller through late: wait
        # until ``interval`` after it, so grants are never closer than ``interval``.
        while (
            wait := self._last_grant.get(target_id, float("-inf")) + self.interval - self._clock()
        ) > 0:
            await self._sleep(wait)
        self._last_grant[target_id] = self._clock()

    def done(self, target_id: str) -> None:
        """The request to ``target_id`` has finished: the next slot is ``interval`` from now.

        >>> now = [0.0]
        >>> limiter = PerTargetRateLimiter(1.0, clock=lambda: now[0])
        >>> asyncio.run(limiter.acquire("slack-a"))
        >>> now[0] = 0.3  # the request took 0.3 s
        >>> limiter.done("slack-a")
        >>> limiter.pending_until("slack-a")
        1.3
        """
        now = self._clock()
        self._next_slot[target_id] = max(self._next_slot.get(target_id, now), now + self.interval)

    def _forget_idle(self, now: float) -> None:
        """Drop targets whose next slot is already free, so the map cannot grow without bound."""
        if len(self._next_slot) > 1024:
            for target in [t for t, slot in self._next_slot.items() if slot <= now]:
                del self._next_slot[target]
                self._last_grant.pop(target, None)
