"""Reading back what the posts reached: each post's metrics read 1 h, 24 h and 7 days after it went out (VK's
wall.getById, X's tweets lookup), Telegram's reaction counts as the chat bot receives them, and the bot's own counts
(clicks through its /go/ links, public page views, calendar downloads). Readings go through the tokens' rate limits
and the delivery's retry policy, within a daily budget per platform and X's monthly cap; they never touch delivery."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.abc import Metrics, Reading
from bot.config import AppConfig
from bot.config.settings import ReachSettings
from bot.domain import Platform
from bot.errors import PublishError, RateLimited
from bot.storage.reach import REACTIONS, REFRESH, ReachReading, ReachStore, SentPost

if TYPE_CHECKING:
    from bot.operations import Operations
    from bot.report import EventReport

log = logging.getLogger(__name__)

# Where a post's reach can be read back by the bot, and what the report says where it cannot.
READABLE = frozenset({Platform.VK, Platform.X})
NOT_AVAILABLE: dict[Platform, str] = {
    Platform.TELEGRAM: "the Bot API gives no view counts for channel posts; reactions come from the chat bot "
                       "(message_reaction_count, grouped and a few minutes late)",
    Platform.DZEN: "Dzen has no API to read an item back",
    Platform.MAX: "this version does not read MAX posts back yet (the bot's own counts still include MAX)",
}
# Requests that are a crawler's, not a person's (link previews, search engines): not counted as clicks or views.
_ROBOT = re.compile(r"bot|crawl|spider|preview|slurp|facebookexternalhit|embedly|curl|wget|python-", re.IGNORECASE)


def is_robot(user_agent: str | None) -> bool:
    """Whether a request's User-Agent is a crawler's (Telegram's and VK's link previews are)."""
    return not user_agent or bool(_ROBOT.search(user_agent))


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _month(moment: datetime) -> datetime:
    return _day(moment).replace(day=1)


def _next_month(moment: datetime) -> datetime:
    start = _month(moment)
    return start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """What reading one target's posts now would take: how many, what it costs, how many the budget allows."""

    target: str
    platform: Platform
    posts: int
    allowed: int
    cost: Decimal  # US dollars for the posts allowed (X bills each post read; the others nothing)
    note: str | None = None  # why fewer are allowed (the day's budget, the month's cap)


@dataclass(frozen=True, kw_only=True)
class RefreshResult:
    """What `report --refresh` read: posts read per target, what it cost, what could not be read and why."""

    estimates: tuple[Estimate, ...]
    read: dict[str, int] = field(default_factory=dict)
    cost: Decimal = Decimal(0)
    problems: tuple[str, ...] = ()


class Reach:
    """The reach of one process's posts: the periodic readings (`sweep`), reading now (`refresh`), Telegram's
    reactions, and the bot's own counts (`count`, written in batches every `[reach] count_flush` seconds)."""

    def __init__(self, operations: Operations) -> None:
        self.ops = operations
        self.store = ReachStore(operations.store.sessions)
        self._pending: Counter[tuple[str, str, str, str]] = Counter()
        self._flushed = -math.inf
        self._told: set[str] = set()  # failures already alerted, per target and reason

    @property
    def config(self) -> AppConfig:
        return self.ops.config

    @property
    def settings(self) -> ReachSettings:
        return self.config.settings.reach

    def readable(self) -> dict[str, Platform]:
        """The targets whose posts the bot can read back: VK and X, with credentials (not the outbox)."""
        return {name: target.platform for name, target in self.config.settings.targets.items()
                if target.enabled and target.platform in READABLE and target.has_credentials}

    # -- budget -----------------------------------------------------------------------------------------

    def allowance(self, platform: Platform, now: datetime) -> tuple[int | None, str | None]:
        """How many more posts of `platform` may be read now (None: no limit), and what limits it."""
        settings = self.settings
        left: int | None = None
        note = None
        daily = settings.budget.get(platform)
        if daily is not None:
            left = max(0, daily - self.store.reads_since(platform, _day(now)))
            note = f"the day's budget of {daily} reads on {platform.value}"
        if platform is Platform.X and settings.x_price_per_read > 0:
            spent = self.store.spent_since(platform, _month(now))
            money = max(0, int((settings.x_monthly_cap - spent) / settings.x_price_per_read))
            if left is None or money < left:
                left, note = money, f"the month's cap of ${settings.x_monthly_cap} on X (${spent} spent)"
        return left, note

    def price(self, platform: Platform) -> Decimal:
        return self.settings.x_price_per_read if platform is Platform.X else Decimal(0)

    def estimate(self, event_id: str, now: datetime | None = None) -> tuple[Estimate, ...]:
        """What reading the event's posts now would read and cost, per target, within the budget."""
        now = now or self.ops.clock()
        readable = self.readable()
        posts = self.store.sent_posts(event_id=event_id, targets=readable)
        found = []
        used: Counter[Platform] = Counter()  # targets of one platform share its budget
        for target in sorted({post.target for post in posts}):
            platform = readable[target]
            mine = sum(post.target == target for post in posts)
            left, note = self.allowance(platform, now)
            allowed = mine if left is None else max(0, min(mine, left - used[platform]))
            used[platform] += allowed
            found.append(Estimate(target=target, platform=platform, posts=mine, allowed=allowed,
                                  cost=self.price(platform) * allowed, note=note if allowed < mine else None))
        return tuple(found)

    # -- the periodic readings ------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Plan the readings of posts that went out, read those due (within the budget), and write the bot's own
        counts. Never raises: reading is no part of delivery."""
        try:
            await self.flush()
            if not self.settings.enabled:
                return 0
            now = self.ops.clock()
            readable = self.readable()
            after = [timedelta(hours=hours) for hours in self.settings.after_hours]
            await asyncio.to_thread(self.store.plan, now, after, readable)
            worker = self.ops.dispatcher.worker
            due = await asyncio.to_thread(self.store.claim_due, now, worker)
            by_target: dict[str, list[ReachReading]] = defaultdict(list)
            for reading in due:
                by_target[reading.target].append(reading)
            done = await asyncio.gather(*(self._sweep_target(target, readings, now, worker)
                                          for target, readings in by_target.items()))
            return sum(done)
        except Exception:
            log.exception("reading the posts' reach failed; delivery goes on")
            return 0

    async def _sweep_target(self, target: str, readings: list[ReachReading], now: datetime, worker: str) -> int:
        platform = readings[0].platform
        if target not in self.readable():  # its credentials went, or it was disabled: not read any more
            for reading in readings:
                await asyncio.to_thread(self.store.settle, reading.id, worker, now,
                                        error=f"{target} can no longer be read (no credentials, or disabled)")
            return 0
        left, note = await asyncio.to_thread(self.allowance, platform, now)
        allowed = readings if left is None else readings[:left]
        later = _next_month(now) if note and "cap" in note else _day(now) + timedelta(days=1)
        for reading in readings[len(allowed):]:
            await asyncio.to_thread(self.store.settle, reading.id, worker, now, retry_at=later,
                                    error=f"over {note}: read at {later:%Y-%m-%d %H:%M} UTC")
        read = 0
        for batch, metrics, failure in await self._read(target, [r.post_ref or "" for r in allowed], allowed):
            for reading in batch:
                if failure is not None:
                    retry_at, why = self._retry(failure, reading.attempts, now)
                    await asyncio.to_thread(self.store.settle, reading.id, worker, now, error=why, retry_at=retry_at)
                    if retry_at is None:
                        await self._tell(target, why)
                elif reading.post_ref in metrics:
                    read += 1
                    await asyncio.to_thread(self.store.settle, reading.id, worker, now,
                                            metrics=metrics[reading.post_ref or ""], cost=self.price(platform) or None)
                else:
                    await asyncio.to_thread(self.store.settle, reading.id, worker, now,
                                            error=f"{platform.value} no longer shows the post (deleted?)")
        return read

    async def _read(self, target: str, refs: Sequence[str], items: Sequence[Any]
                    ) -> list[tuple[list[Any], dict[str, Metrics], PublishError | None]]:
        """Read `refs` on `target` in the adapter's batches, each through the token's read limits; per batch, the
        items it covered and the metrics, or the error."""
        publisher = self.ops.dispatcher.publisher
        adapter = publisher.adapter(target)
        if not isinstance(adapter, Reading):
            return []
        limits = publisher.read_limits_for(target)
        found: list[tuple[list[Any], dict[str, Metrics], PublishError | None]] = []
        size = max(1, adapter.read_batch)
        for start in range(0, len(refs), size):
            await limits.acquire()
            try:
                metrics = await adapter.read_reach(refs[start:start + size])
            except PublishError as exc:
                found.append((list(items[start:start + size]), {}, exc))
            else:
                found.append((list(items[start:start + size]), metrics, None))
        return found

    def _retry(self, error: PublishError, attempts: int, now: datetime) -> tuple[datetime | None, str]:
        """When to read again after `error` (the delivery's policy: as long as a rate limit asks, back-off with
        jitter for a network error, never for a refusal), and why."""
        policy = self.config.settings.delivery
        message = f"{type(error).__name__}: {error}"
        if isinstance(error, RateLimited):
            return now + timedelta(seconds=error.retry_after), message
        if not error.retryable:
            return None, message
        if attempts >= policy.max_attempts:
            return None, f"gave up after {attempts} attempts: {message}"
        backoff = min(policy.backoff_max, policy.backoff_base * 2 ** max(attempts - 1, 0))
        return now + timedelta(seconds=backoff * random.uniform(0.5, 1.0)), message

    async def _tell(self, target: str, why: str) -> None:
        key = f"{target}: {why}"
        if key not in self._told:  # once per target and reason: readings fail in threes (1 h, 24 h, 7 days)
            self._told.add(key)
            await self.ops.alerts(f"reading the reach of posts on {target} failed: {why}")

    # -- reading now --------------------------------------------------------------------------------------

    async def refresh(self, event_id: str, *, wait: float = 30.0) -> RefreshResult:
        """Read the event's published posts now, within the budget (see `estimate`); a failure that may pass is
        tried again while `wait` seconds last. Each reading is stored with its time, as a scheduled one."""
        now = self.ops.clock()
        estimates = await asyncio.to_thread(self.estimate, event_id, now)
        posts = await asyncio.to_thread(self.store.sent_posts, event_id=event_id, targets=self.readable())
        read: dict[str, int] = {}
        cost = Decimal(0)
        problems = [f"{e.target}: {e.posts - e.allowed} post(s) not read: over {e.note}" for e in estimates if e.note]
        deadline = time.monotonic() + wait
        slot = f"{REFRESH}{now:%Y%m%dT%H%M%S}"
        for estimate in estimates:
            mine = [post for post in posts if post.target == estimate.target][:estimate.allowed]
            attempts = 0
            error: PublishError | None = None
            while mine:
                attempts += 1
                left: list[SentPost] = []
                for batch, metrics, failure in await self._read(estimate.target, [p.post_ref for p in mine], mine):
                    if failure is not None:
                        left += batch
                        error = failure
                        continue
                    for post in batch:
                        if post.post_ref in metrics:
                            price = self.price(post.platform)
                            await asyncio.to_thread(self.store.record, post, slot, now, metrics[post.post_ref],
                                                    cost=price or None)
                            read[estimate.target] = read.get(estimate.target, 0) + 1
                            cost += price
                if not left or error is None:
                    break
                retry_at, why = self._retry(error, attempts, now)
                pause = (retry_at - now).total_seconds() if retry_at else None
                if pause is None or time.monotonic() + pause > deadline:
                    problems.append(f"{estimate.target}: {len(left)} post(s) not read: {why}")
                    break
                await asyncio.sleep(pause)
                mine = left
        return RefreshResult(estimates=estimates, read=read, cost=cost, problems=tuple(problems))

    async def report(self, event_id: str, *, refresh: bool = False, wait: float = 30.0) -> EventReport | None:
        """The event's reach report (None: no such event); with `refresh`, its posts read now first (within the
        budget: `estimate` says what that reads and costs)."""
        from bot.report import build  # the report reads what this module collects

        stored = await asyncio.to_thread(self.ops.store.record, event_id)
        if stored is None:
            return None
        await self.flush()
        done = await self.refresh(event_id, wait=wait) if refresh else None
        return await asyncio.to_thread(build, self.config, self.store, self.ops.reminders, stored, self.ops.clock(),
                                       refresh=done)

    # -- what the platforms send ------------------------------------------------------------------------------

    async def reactions(self, chat_id: int, username: str | None, message_id: int, counts: dict[str, int],
                        at: datetime) -> int:
        """Telegram's reaction counts of a channel message (a message_reaction_count update): stored as a reading
        of the published post it is, on every Telegram target of that channel. Returns how many posts it was."""
        names = {f"@{username}".lower()} if username else set()
        names.add(str(chat_id))
        targets = [name for name, target in self.config.settings.targets.items()
                   if target.platform is Platform.TELEGRAM and str(getattr(target, "chat_id", "")).lower() in names]
        if not targets:
            return 0
        posts = await asyncio.to_thread(self.store.posts_by_message, targets, str(message_id))
        metrics = {"reactions": sum(counts.values()), **{f"reaction {kind}": n for kind, n in counts.items()}}
        for post in posts:
            await asyncio.to_thread(self.store.record, post, f"{REACTIONS}{at:%Y%m%dT%H%M%S}", at, metrics)
        return len(posts)

    # -- the bot's own counts -------------------------------------------------------------------------------------

    async def count(self, event_id: str, name: str, key: str) -> None:
        """One click, page view or calendar download; written with others every `[reach] count_flush` seconds."""
        self._pending[(event_id, name, key, f"{self.ops.clock():%Y-%m-%d}")] += 1
        if time.monotonic() - self._flushed >= self.settings.count_flush:
            await self.flush()

    async def flush(self) -> None:
        """Write the counts kept so far."""
        pending, self._pending = self._pending, Counter()
        self._flushed = time.monotonic()
        if pending:
            try:
                await asyncio.to_thread(self.store.add_counts, dict(pending))
            except Exception:  # counted again next time rather than lost
                self._pending.update(pending)
                raise
