"""Flood control: each person has a small token bucket; past it, one polite note and then silence."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.chat.core import Incoming, Replies, Services
from bot.chat.texts import t


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class Throttle:
    """Allows `burst` updates at once and `rate` per second after that, per person (non-blocking)."""

    def __init__(self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic,
                 max_people: int = 100_000) -> None:
        self.burst = float(burst)
        self.rate = rate
        self.clock = clock
        self.max_people = max_people
        self._buckets: dict[int, _Bucket] = {}
        self.refused = 0

    def allow(self, user_id: int) -> tuple[bool, bool]:
        """(allowed, warn): `warn` is True for the first refusal of a flood only."""
        now = self.clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.max_people:
                self._forget(now)
            bucket = self._buckets[user_id] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True, False
        self.refused += 1
        warn = not bucket.warned
        bucket.warned = True
        return False, warn

    def _forget(self, now: float) -> None:
        """Drop people whose bucket is full again: they are indistinguishable from new ones."""
        full = [uid for uid, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for uid in full:
            del self._buckets[uid]


async def admitted(throttle: Throttle, services: Services, msg: Incoming, out: Replies) -> bool:
    """Whether to handle this update: someone past their bucket is told once to slow down, then ignored (a press
    is still answered, so that its button stops spinning)."""
    if msg.user_id is None:
        return True
    allowed, warn = throttle.allow(msg.user_id)
    if allowed:
        return True
    if warn:
        note = t("slow_down", await services.lang(msg))
        if msg.data is not None:
            await out.answer(note)
        elif msg.chat_id is not None:
            await out.send(note)
    elif msg.data is not None:
        await out.answer()
    return False
