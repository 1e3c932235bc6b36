"""What the front ends read, as coroutines: each runs its storage work in a worker thread (one chokepoint), so a
slow query never stalls the event loop the web app, the chat bot and the dispatcher share. Writes go through the
operations layer (bot/operations.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import ParamSpec, TypeVar

from bot.domain import Delivery, Event, PlannedPost, StoredEvent
from bot.storage import Store
from bot.storage import reports as _reports
from bot.storage.reports import TargetHealth

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class Counts:
    """What /metrics counts, read at once (in a worker thread, by the metrics collector)."""

    deliveries: dict[tuple[str, str], int]
    queue_depth: int
    subscribers: dict[str, int]
    latencies: list[tuple[str, float]]


FRESH = 1.0  # seconds a public event read is reused while this process has written nothing (see public_event)
KEPT = 1_000  # public events remembered at most


class Queries:
    """Read-only questions about events, posts and deliveries, each answered off the event loop."""

    def __init__(self, store: Store, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._monotonic = monotonic
        # Threads of their own, kept warm: a page's query does not wait behind the dispatcher's writes or a
        # preview in the default pool.
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="queries")
        self._public: dict[str, tuple[int, float, Event | None]] = {}  # id -> (commits then, when, the answer)

    async def _off_loop(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._threads, partial(work, *args, **kwargs))

    async def public_events(self) -> list[Event]:
        """The events the public sees (neither withdrawn nor drafts), by start."""
        return await self._off_loop(self._store.public_events)

    async def public_event(self, event_id: str) -> Event | None:
        """A public event, or None (unknown, withdrawn or a draft). Its page is what a shared link brings in bursts:
        an answer is reused for up to FRESH seconds, and at once no longer after any commit of this process (a
        change made here shows on the next request; one made by another process or replica, within FRESH)."""
        commits, now = self._store.commits, self._monotonic()
        memo = self._public.get(event_id)
        if memo is not None and memo[0] == commits and now - memo[1] < FRESH:
            return memo[2]
        found = await self._off_loop(self._store.event, event_id)  # `commits` was read first: a commit meanwhile
        if len(self._public) >= KEPT:  # makes this answer stale at once
            self._public.clear()
        self._public[event_id] = (commits, now, found)
        return found

    async def record(self, event_id: str) -> StoredEvent | None:
        """Any stored event (withdrawn and drafts included), with where it comes from."""
        return await self._off_loop(self._store.record, event_id)

    async def records(self) -> list[StoredEvent]:
        """Every stored event, withdrawn and drafts included, by start."""
        return await self._off_loop(self._store.records)

    async def posts(self, event_id: str | None = None, *, text: bool = False) -> list[PlannedPost]:
        """The planned posts (of one event), by due time; with `text`, each with its rendering."""
        return await self._off_loop(self._store.posts, event_id, text=text)

    async def post_counts(self) -> dict[str, tuple[int, int]]:
        """Per event, (posts sent, posts planned in all)."""
        return await self._off_loop(self._store.post_counts)

    async def deliveries(self, event_id: str | None = None, limit: int = 100) -> list[Delivery]:
        return await self._off_loop(self._store.deliveries, event_id, limit=limit)

    async def subscriber_counts(self) -> dict[str, int]:
        return await self._off_loop(_reports.subscriber_counts, self._store.sessions)

    async def database_health(self) -> list[TargetHealth]:
        """Each target's last success and failure; raises when the database does not answer."""

        def read() -> list[TargetHealth]:
            _reports.ping(self._store.sessions)
            return _reports.target_health(self._store.sessions)

        return await self._off_loop(read)

    def counts(self, now: datetime) -> Counts:
        """What /metrics reports. Blocking: for a worker thread (prometheus calls collectors synchronously)."""
        sessions = self._store.sessions
        return Counts(deliveries=_reports.delivery_counts(sessions), queue_depth=_reports.queue_depth(sessions, now),
                      subscribers=_reports.subscriber_counts(sessions), latencies=_reports.reply_latencies(sessions))
