"""Per-target rate limiting on a virtual clock: spacing, FIFO order, independent targets."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Coroutine
from typing import Any

import pytest

from incidents.notify.ratelimit import PerTargetRateLimiter


class VirtualTime:
    """A clock and a sleep for many concurrent tasks: time jumps to the next wake-up once every
    task is waiting on it, so nothing really sleeps and the outcome is deterministic."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), self._seq, future))
        self._seq += 1
        await future

    async def run(self, *coros: Coroutine[Any, Any, None]) -> None:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            # Let every task run until it finishes or waits on a timer.
            while sum(not t.done() for t in tasks) != len(self._timers):
                await asyncio.sleep(0)
            if not self._timers:
                break
            wake, _, future = heapq.heappop(self._timers)
            self.now = wake
            future.set_result(None)
        for task in tasks:
            task.result()


def run(vt: VirtualTime, *coros: Coroutine[Any, Any, None]) -> None:
    asyncio.run(vt.run(*coros))


def test_a_burst_of_five_to_one_target_takes_four_intervals_in_order() -> None:
    vt = VirtualTime()
    limiter = PerTargetRateLimiter(1.0, clock=vt.clock, sleep=vt.sleep)
    sent: list[tuple[float, int]] = []

    async def message(i: int) -> None:
        await limiter.acquire("slack-a")
        sent.append((vt.now, i))

    run(vt, *(message(i) for i in range(5)))
    assert sent == [(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 3), (4.0, 4)]


def test_two_targets_interleave_without_waiting_for_each_other() -> None:
    vt = VirtualTime()
    limiter = PerTargetRateLimiter(1.0, clock=vt.clock, sleep=vt.sleep)
    sent: list[tuple[float, str]] = []

    async def message(target: str, i: int) -> None:
        await limiter.acquire(target)
        sent.append((vt.now, f"{target}{i}"))

    run(vt, *(message("a", i) for i in range(3)), *(message("b", i) for i in range(3)))
    assert sent == [
        (0.0, "a0"),
        (0.0, "b0"),
        (1.0, "a1"),
        (1.0, "b1"),
        (2.0, "a2"),
        (2.0, "b2"),
    ]


def test_a_target_idle_for_longer_than_the_interval_sends_at_once() -> None:
    vt = VirtualTime()
    limiter = PerTargetRateLimiter(1.0, clock=vt.clock, sleep=vt.sleep)
    sent: list[float] = []

    async def scenario() -> None:
        await limiter.acquire("a")
        sent.append(vt.now)
        await vt.sleep(5.0)  # a quiet spell
        await limiter.acquire("a")
        sent.append(vt.now)
        await limiter.acquire("a")
        sent.append(vt.now)

    run(vt, scenario())
    assert sent == [0.0, 5.0, 6.0]


def test_late_arrivals_queue_behind_earlier_ones() -> None:
    vt = VirtualTime()
    limiter = PerTargetRateLimiter(2.0, clock=vt.clock, sleep=vt.sleep)
    sent: list[tuple[float, str]] = []

    async def message(name: str, start: float) -> None:
        await vt.sleep(start)
        await limiter.acquire("a")
        sent.append((vt.now, name))

    run(vt, message("first", 0.0), message("second", 0.5), message("third", 0.7))
    assert sent == [(0.0, "first"), (2.0, "second"), (4.0, "third")]


def test_a_sleep_that_overruns_does_not_let_the_next_caller_through_early() -> None:
    vt = VirtualTime()
    overruns = [0.8]  # the first wait wakes 0.8 s late, as on a loaded machine

    async def late_sleep(seconds: float) -> None:
        await vt.sleep(seconds + (overruns.pop() if overruns else 0.0))

    limiter = PerTargetRateLimiter(1.0, clock=vt.clock, sleep=late_sleep)
    sent: list[float] = []

    async def message(start: float) -> None:
        await vt.sleep(start)
        await limiter.acquire("a")
        sent.append(vt.now)

    run(vt, message(0.0), message(0.1), message(0.2))
    assert sent[0] == 0.0
    assert sent[1] == pytest.approx(1.8)  # its slot was 1.0; it woke late
    assert sent[2] == pytest.approx(2.8)  # its slot was 2.0: held back to 1 s after the late one


def test_with_the_real_clock_calls_are_spaced() -> None:
    limiter = PerTargetRateLimiter(0.05)
    loop_times: list[float] = []

    async def burst() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(3):
            await limiter.acquire("a")
            loop_times.append(loop.time())

    asyncio.run(burst())
    gaps = [b - a for a, b in zip(loop_times, loop_times[1:], strict=False)]
    assert all(gap >= 0.045 for gap in gaps), gaps


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        PerTargetRateLimiter(-1.0)
