"""Rate limits per platform token: exact sliding windows ("at most N in any T seconds"), shared by every sender."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from bot.domain import Platform
from bot.platforms import SPECS

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Windows = Sequence[tuple[int, float]]
PRUNE_EVERY = 1024  # acquisitions between two sweeps of the per-chat windows nobody used for a while


class Slot:
    """One request let through: it counts in its windows from its start until `done()` (its answer came back).

    A platform counts a request when it arrives, which is somewhere between the two: counting it until the
    answer came back is what keeps "at most N in any T seconds" true at the platform whatever the network's
    jitter.
    """

    __slots__ = ("_clock", "_ended", "end", "on_done", "start")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.start = clock()
        self.end: float | None = None
        self.on_done: Callable[[], None] | None = None
        self._ended: asyncio.Event | None = None

    def done(self) -> None:
        """The request is over (answered, failed or never sent); calling it again changes nothing."""
        if self.end is None:
            self.end = self._clock()
            if self._ended is not None:
                self._ended.set()
            if self.on_done is not None:
                self.on_done()

    async def finished(self) -> float:
        if self.end is None:
            if self._ended is None:
                self._ended = asyncio.Event()
            await self._ended.wait()
        assert self.end is not None
        return self.end


class SlidingWindow:
    """At most `limit` requests in any `period` seconds, let through in arrival order.

    Exact where a token bucket is not: a bucket of rate 30 with a burst of 30 lets 59 through in one sliding
    second (a full bucket, then a second's refill). Here a request may start only `period` after every request
    `limit` or more places before it has finished.
    """

    def __init__(self, limit: int, period: float, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs a limit of at least 1 and a positive period")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[Slot] = deque()  # the last `limit` requests let through, oldest first
        self._horizon = -math.inf  # the latest end of the requests that left `_slots`
        self._lock = asyncio.Lock()

    def _prune(self, now: float) -> None:
        # A request that ended a period ago binds nobody any more.
        while self._slots and (end := self._slots[0].end) is not None and end <= now - self.period:
            self._horizon = max(self._horizon, end)
            self._slots.popleft()

    def delay(self) -> float:
        """How long a request made now would wait (one still in flight counts as ending now)."""
        now = self._clock()
        self._prune(now)
        latest = self._horizon
        if len(self._slots) >= self.limit:
            oldest = self._slots[0].end
            latest = max(latest, now if oldest is None else oldest)
        return max(0.0, latest + self.period - now)

    @property
    def idle(self) -> bool:
        """Nothing waits here and nothing let through here still binds anyone."""
        self._prune(self._clock())
        return not self._slots and not self._lock.locked()

    async def admit(self, slot: Slot) -> None:
        """Wait until `slot` may start here, then count it."""
        async with self._lock:  # waiters queue fairly, so a burst keeps its order
            while True:
                self._prune(self._clock())
                if len(self._slots) >= self.limit:
                    oldest = self._slots[0]
                    if oldest.end is None:
                        await oldest.finished()
                        continue  # it may also have been withdrawn: look again
                    latest = max(self._horizon, oldest.end)
                else:
                    latest = self._horizon
                wait = latest + self.period - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)
            if len(self._slots) >= self.limit:
                left = self._slots.popleft().end
                assert left is not None  # waited for above
                self._horizon = max(self._horizon, left)
            self._slots.append(slot)

    def withdraw(self, slot: Slot) -> None:
        """A request admitted here that will never be sent (it was cancelled waiting elsewhere)."""
        with contextlib.suppress(ValueError):
            self._slots.remove(slot)


def is_private_chat(chat: str) -> bool:
    # Telegram: a person's chat has their positive user id; groups and channels are negative ids or @names.
    return chat.isdigit()


class TokenLimits:
    """The limits of one platform token: its overall windows, a window per chat, a pause after a 429.

    A request sent as a paid broadcast (Telegram's allow_paid_broadcast) passes the `paid` windows only;
    every other passes the free `overall` windows and the `paid` ones, so that the two together stay under
    the paid ceiling.
    """

    def __init__(self, *, overall: Windows = (), paid: Windows = (), chat: Windows = (), private: Windows = (),
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self._free = [SlidingWindow(n, t, clock=clock, sleep=sleep) for n, t in overall]
        self._paid = [SlidingWindow(n, t, clock=clock, sleep=sleep) for n, t in paid]
        self._chat_windows = tuple(chat)
        self._private_windows = tuple(private)
        self._chats: dict[str, list[SlidingWindow]] = {}
        self._paused_until = -math.inf
        self._taken = 0
        self.in_flight = 0  # requests let through and not yet done

    def ceiling(self, *, paid: bool = False) -> float:
        """The most requests a second the overall windows allow (infinite when there are none)."""
        windows = self._paid if paid else self._free + self._paid
        return min((w.limit / w.period for w in windows), default=math.inf)

    def _for_chat(self, chat: str) -> list[SlidingWindow]:
        windows = self._chats.get(chat)
        if windows is None:
            kinds = self._private_windows if is_private_chat(chat) else self._chat_windows
            windows = self._chats[chat] = [SlidingWindow(n, t, clock=self.clock, sleep=self.sleep) for n, t in kinds]
        return windows

    def delay(self, chat: str) -> float:
        """How long a request to `chat` would wait for that chat's own windows (not the token's)."""
        windows = self._chats.get(chat)
        return max((w.delay() for w in windows), default=0.0) if windows else 0.0

    def pause(self, seconds: float) -> None:
        """The platform asked to wait (a 429): nothing more goes out with this token until then."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    @property
    def paused(self) -> float:
        """Seconds left of a pause the platform asked for."""
        return max(0.0, self._paused_until - self.clock())

    async def take(self, chat: str | None = None, *, paid: bool = False) -> Slot:
        """Wait until a request to `chat` may start; the caller calls `done()` on the slot when it is over."""
        slot = Slot(self.clock)
        windows = ([] if chat is None else self._for_chat(chat)) + ([] if paid else self._free) + self._paid
        try:
            for window in windows:
                await window.admit(slot)
            while (wait := self.paused) > 0:
                await self.sleep(wait)
        except BaseException:  # never sent: out of the windows it got into, and whoever waits on it goes on
            for window in windows:
                window.withdraw(slot)
            slot.done()
            raise
        slot.start = self.clock()
        self.in_flight += 1
        slot.on_done = self._over
        self._taken += 1
        if self._taken % PRUNE_EVERY == 0:
            self._chats = {key: w for key, w in self._chats.items() if not all(x.idle for x in w)}
        return slot

    def _over(self) -> None:
        self.in_flight -= 1

    async def acquire(self, chat: str | None = None, *, paid: bool = False) -> None:
        """Wait for a start and count the request from then (for a sender that cannot say when it is over)."""
        (await self.take(chat, paid=paid)).done()


class Pacer:
    """Requests evenly spaced at `rate` (a little below the token's limit), each taking its slot in the limits.

    Sends are spaced on a fixed grid, so the time a sleep overshoots is not lost (a token bucket with a
    burst of 1 loses it: 30/s sags to 28/s), and a send that came late is made up for by the next ones, up
    to a little lag (after an idle spell nothing is saved up for a burst). The token's windows still hold the
    limit itself, whatever the jitter.
    """

    def __init__(self, limits: TokenLimits, rate: float, *, paid: bool = False) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.limits = limits
        self.paid = paid
        self.interval = 1.0 / rate
        # How far behind the grid may fall and still catch up: a few sends, and at high rates ~20 ms of them.
        self._slack = max(3 * self.interval, 0.02)
        self._next = -math.inf
        self._lock = asyncio.Lock()

    async def slot(self, chat: str | None = None) -> Slot:
        """Wait for the next place on the grid, then for the token's windows (and any pause); returns the slot."""
        async with self._lock:
            clock = self.limits.clock
            now = clock()
            if self._next > now:
                await self.limits.sleep(self._next - now)
            elif now - self._next > self._slack:  # idle, or far behind: a new grid, no burst
                self._next = now
            self._next += self.interval
            return await self.limits.take(chat, paid=self.paid)


class RateLimits:
    """One TokenLimits per (platform, token): channel posts, reminders and chat replies of one bot share it.

    The windows are the platforms' documented limits, declared in bot/platforms.py (`PlatformSpec.windows`,
    `chat_windows`, `private_chat_windows`, `paid_windows`). `enabled=False` (tests, benchmarks) lets
    everything through, but a 429's pause still holds.
    """

    def __init__(self, *, enabled: bool = True, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.enabled = enabled
        self.clock = clock
        self.sleep = sleep
        self._tokens: dict[tuple[Platform, str], TokenLimits] = {}

    def for_token(self, platform: Platform, token: str) -> TokenLimits:
        # Keyed by a digest: the registry never holds a credential.
        key = (platform, hashlib.sha256(token.encode()).hexdigest()[:16])
        if key not in self._tokens:
            spec = SPECS[platform]
            declared = {"overall": spec.windows, "paid": spec.paid_windows, "chat": spec.chat_windows,
                        "private": spec.private_chat_windows} if self.enabled else {}
            self._tokens[key] = TokenLimits(**declared, clock=self.clock, sleep=self.sleep)
        return self._tokens[key]

    def for_reads(self, platform: Platform, token: str) -> TokenLimits:
        """The limits reading posts' metrics back goes through: the token's own where the platform counts every
        call together (VK), the read endpoint's where it counts them apart (X: `PlatformSpec.read_windows`)."""
        spec = SPECS[platform]
        if not spec.read_windows:
            return self.for_token(platform, token)
        key = (platform, "read:" + hashlib.sha256(token.encode()).hexdigest()[:16])
        if key not in self._tokens:
            declared = {"overall": spec.read_windows} if self.enabled else {}
            self._tokens[key] = TokenLimits(**declared, clock=self.clock, sleep=self.sleep)
        return self._tokens[key]
