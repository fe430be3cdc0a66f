"""A clock that only moves when a test says so, to replay store races without sleeping.

Real sleeps make race tests slow and flaky: whether two coroutines interleave depends on the
scheduler's mood. With :class:`FakeClock` injected as the stores' :class:`~.base.Clock`, every
modelled latency becomes a point in virtual time at which a coroutine parks; the test then moves
time forward and the parked coroutines resume in deadline order, one deadline at a time. The
order of events is fixed by the model's latencies alone, so a race happens the same way every run.

Two ways to drive it:

- ``await clock.run(aw)`` runs an awaitable to completion, jumping time to the next deadline
  whenever every task is parked on the clock (for sequential steps of a scenario);
- ``clock.sleepers`` / ``await clock.wait_for_sleepers(n)`` / ``await clock.advance(s)`` let a
  test start several operations, wait until all are parked, then move time by hand.

It is meant for in-memory code (the KV model). Code that waits on real I/O (a SQLite thread) can
still be parked at a known point with ``wait_for_sleepers``, which polls with a real deadline.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# How many times the driver yields to the event loop to let woken tasks reach their next park.
# Each round lets every runnable task take one step; a wake-up that ends a task and resumes the
# ``gather`` waiting on it takes three or four. Fifty leaves a wide margin and costs microseconds.
_SETTLE_ROUNDS = 50


class FakeClock:
    """Virtual time for the :class:`~.base.Clock` protocol; starts at a fixed Unix time."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Park until virtual time reaches now + ``seconds``; 0 or less only yields once."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    @property
    def sleepers(self) -> int:
        """Coroutines parked on the clock right now (cancelled ones excluded)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def settle(self) -> None:
        """Let every runnable task run until it parks again or finishes."""
        for _ in range(_SETTLE_ROUNDS):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers one deadline at a time, in order."""
        target = self._now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            self._wake_next()
            await self.settle()
        self._now = max(self._now, target)

    async def run(self, aw: Awaitable[T]) -> T:
        """Await ``aw``, jumping to the next deadline whenever nothing else can run."""
        task = asyncio.ensure_future(aw)
        await self.settle()
        while not task.done():
            if not self._sleepers:
                task.cancel()
                raise RuntimeError("FakeClock.run: the task waits on something other than the clock")
            self._wake_next()
            await self.settle()
        return task.result()

    async def wait_for_sleepers(self, count: int, timeout: float = 5.0) -> None:
        """Wait (in real time, at most ``timeout`` s) until ``count`` coroutines are parked."""
        deadline = time.monotonic() + timeout
        while self.sleepers < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.sleepers} of {count} coroutines parked on the clock")
            await asyncio.sleep(0.001)

    def _wake_next(self) -> None:
        """Move time to the earliest deadline and wake everyone parked until then."""
        deadline = self._sleepers[0][0]
        self._now = max(self._now, deadline)
        while self._sleepers and self._sleepers[0][0] <= deadline:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
