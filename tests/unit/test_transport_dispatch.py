"""The worker consumer hands a fetched message to Faust's conductor inline when the handing over
does not wait, and races a handing over that waits against the flow's suspension, as Faust does.

Faust's drainer calls ``wait_first(callback(message), suspend_flow.wait())`` once a message: a
callback blocked on a full agent queue must give way when a rebalance suspends the flow, else the
rebalance waits for a queue nobody empties (app/worker/transport.py, 6).
"""

from __future__ import annotations

import asyncio
import inspect
from types import SimpleNamespace
from typing import Any

import pytest
from mode.utils.locks import Event

from app.worker.transport import _Consumer, run_until_blocked


def consumer(lean: bool = True) -> Any:
    """A worker consumer with what ``wait_first`` uses: the app's switch and the service's
    stopped and crashed events."""
    worker = object.__new__(_Consumer)
    worker.app = SimpleNamespace(lean=lean)
    worker._stopped = Event()
    worker._crashed = Event()
    worker._loop = asyncio.get_running_loop()
    return worker


def test_a_message_handed_over_at_once_needs_no_task_and_leaves_no_coroutine_behind() -> None:
    queue: list[int] = []

    async def callback(message: int) -> str:
        queue.append(message)
        return "put"

    suspended = Event().wait()

    async def main() -> tuple[Any, int]:
        worker = consumer()
        created: list[Any] = []
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda lp, coro: created.append(coro) or asyncio.Task(coro, loop=lp))
        result = await worker.wait_first(callback(7), suspended)
        loop.set_task_factory(None)
        return result, len(created)

    result, tasks = asyncio.run(main())
    assert queue == [7]
    assert (result.results, result.stopped, tasks) == (["put"], False, 0)
    # closed, not left for the garbage collector to warn about ("never awaited")
    assert inspect.getcoroutinestate(suspended) == inspect.CORO_CLOSED


def test_a_message_that_waits_for_room_is_handed_over_once_there_is_room() -> None:
    queue: list[int] = []

    async def main() -> Any:
        worker = consumer()
        room = asyncio.Event()

        async def callback(message: int) -> str:
            await room.wait()  # the agent's queue is full
            queue.append(message)
            return "put"

        waiting = asyncio.ensure_future(worker.wait_first(callback(8), Event().wait()))
        await asyncio.sleep(0.01)
        assert queue == [] and not waiting.done()
        room.set()
        return await waiting

    result = asyncio.run(main())
    assert queue == [8]
    assert (result.results, result.stopped) == (["put"], False)


@pytest.mark.parametrize("lean", [True, False])
def test_a_suspended_flow_frees_the_drainer_from_a_message_that_waits(lean: bool) -> None:
    cancelled: list[bool] = []

    async def main() -> Any:
        worker = consumer(lean)
        suspend_flow = Event()

        async def callback() -> None:
            try:
                await asyncio.Event().wait()  # a full queue that nobody empties
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        waiting = asyncio.ensure_future(worker.wait_first(callback(), suspend_flow.wait()))
        await asyncio.sleep(0.01)
        suspend_flow.set()  # a rebalance
        result = await asyncio.wait_for(waiting, 5)
        await asyncio.sleep(0)
        return result

    result = asyncio.run(main())
    assert (result.results, result.stopped, cancelled) == ([True], False, [True])


def test_an_error_in_the_handing_over_reaches_the_drainer() -> None:
    async def callback() -> None:
        raise ValueError("decode")

    suspended = Event().wait()

    async def main() -> None:
        await consumer().wait_first(callback(), suspended)

    with pytest.raises(ValueError, match="decode"):
        asyncio.run(main())
    assert inspect.getcoroutinestate(suspended) == inspect.CORO_CLOSED


def test_the_rest_of_a_coroutine_gets_what_it_waited_for() -> None:
    async def sleeper() -> float:
        await asyncio.sleep(0)
        return await asyncio.wait_for(asyncio.sleep(0.01, result=2.5), 1)

    async def main() -> Any:
        finished, rest = run_until_blocked(sleeper())
        assert not finished
        return await rest

    assert asyncio.run(main()) == 2.5
