"""Rate limits per platform token: exact sliding windows ("at most N in any T seconds"), shared by every sender."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.domain import Platform
from bot.platforms import SPECS

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SlidingWindow:
    """At most `limit` acquisitions in any `period` seconds, granted in arrival order.

    Exact where a token bucket is not: a bucket of rate 30 with a burst of 30 lets 59 through in one sliding
    second (a full bucket, then a second's refill). Here a send may start only `period` after the one `limit`
    places before it started.
    """

    def __init__(self, limit: int, period: float, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs a limit of at least 1 and a positive period")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    def delay(self) -> float:
        """How long an acquisition made now would wait."""
        now = self._clock()
        while self._starts and self._starts[0] <= now - self.period:
            self._starts.popleft()
        if len(self._starts) < self.limit:
            return 0.0
        return self._starts[0] + self.period - now

    async def acquire(self) -> None:
        async with self._lock:  # waiters queue fairly, so a burst keeps its order
            while (wait := self.delay()) > 0:
                await self._sleep(wait)
            self._starts.append(self._clock())


class TokenLimits:
    """The limits of one platform token: overall windows, and per-chat windows keyed by the chat."""

    def __init__(self, overall: list[SlidingWindow], per_chat: Callable[[], list[SlidingWindow]] | None = None) -> None:
        self.overall = overall
        self._per_chat = per_chat
        self._chats: dict[str, list[SlidingWindow]] = {}

    async def acquire(self, chat: str | None = None) -> None:
        if chat is not None and self._per_chat is not None:
            for window in self._chats.setdefault(chat, self._per_chat()):
                await window.acquire()
        for window in self.overall:
            await window.acquire()


class RateLimits:
    """One TokenLimits per (platform, token): channel posts, reminders and chat replies of one bot share it.

    The windows are the platforms' documented limits, declared in bot/platforms.py (`PlatformSpec.windows`
    and `chat_windows`). `enabled=False` (tests, benchmarks) lets everything through.
    """

    def __init__(self, *, enabled: bool = True, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.enabled = enabled
        self._clock = clock
        self._sleep = sleep
        self._tokens: dict[tuple[Platform, str], TokenLimits] = {}

    def for_token(self, platform: Platform, token: str) -> TokenLimits:
        # Keyed by a digest: the registry never holds a credential.
        key = (platform, hashlib.sha256(token.encode()).hexdigest()[:16])
        if key not in self._tokens:
            spec = SPECS[platform]
            overall = [SlidingWindow(n, t, clock=self._clock, sleep=self._sleep) for n, t in spec.windows] \
                if self.enabled else []

            def per_chat() -> list[SlidingWindow]:
                return [SlidingWindow(n, t, clock=self._clock, sleep=self._sleep) for n, t in spec.chat_windows] \
                    if self.enabled else []

            self._tokens[key] = TokenLimits(overall, per_chat)
        return self._tokens[key]
