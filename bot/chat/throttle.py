"""Flood control: each person has a small token bucket; past it, one polite note and then silence."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.chat.core import Context, Services, answer, reply
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


def handlers(services: Services, throttle: Throttle) -> list[BaseHandler[Update, Any, Any]]:
    async def gate(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is None:
            return
        allowed, warn = throttle.allow(user.id)
        if allowed:
            return
        if warn:
            lang = services.lang(update)
            if update.callback_query is not None:
                await answer(update.callback_query, t("slow_down", lang))
            elif update.effective_chat is not None and update.effective_message is not None:
                await reply(update, context, t("slow_down", lang))
        elif update.callback_query is not None:
            await answer(update.callback_query)
        raise ApplicationHandlerStop

    return [TypeHandler(Update, gate)]
