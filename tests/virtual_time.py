"""Virtual time for pacing tests: it passes only when the code under test sleeps, so timings are exact."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta


class VirtualTime:
    """A clock that moves only when someone sleeps on it, and then by exactly what they asked (plus
    `overshoot(seconds)`, a late wake-up a test may script).

    Before it moves on, it waits (in real time) until `quiet()` says nothing is under way: requests in
    flight and receipts being written take no virtual time. Arrival times stamped with `monotonic` by a
    fake in another thread are then exact too: what is asserted about them does not depend on the
    machine's load.
    """

    def __init__(self, start: datetime, *, overshoot: Callable[[float], float] = lambda seconds: 0.0,
                 quiet: Callable[[], bool] = lambda: True) -> None:
        self.start = start
        self.now = 0.0
        self.overshoot = overshoot
        self.quiet = quiet
        self.slept = 0  # how many sleeps asked for time

    def monotonic(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return self.start + timedelta(seconds=self.now)

    async def settle(self, timeout: float = 20.0) -> None:
        """Wait (in real time) until nothing is under way."""
        deadline = time.monotonic() + timeout
        while not self.quiet():
            if time.monotonic() > deadline:
                raise TimeoutError("virtual time: still busy after 20 s of real time")
            await asyncio.sleep(0.001)

    async def sleep(self, seconds: float) -> None:
        target = self.now + max(0.0, seconds)
        await self.settle()
        if seconds > 0:
            self.slept += 1
            self.now = max(self.now, target + self.overshoot(seconds))
        await asyncio.sleep(0)
