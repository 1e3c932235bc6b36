"""What the front ends read, as coroutines: each runs its storage work in a worker thread (one chokepoint), so a
slow query never stalls the event loop the web app, the chat bot and the dispatcher share. Writes go through the
operations layer (bot/operations.py)."""

from __future__ import annotations

import asyncio
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


class Queries:
    """Read-only questions about events, posts and deliveries, each answered off the event loop."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Threads of their own, kept warm: a page's query does not wait behind the dispatcher's writes or a
        # preview in the default pool.
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="queries")

    async def _off_loop(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._threads, partial(work, *args, **kwargs))

    async def public_events(self) -> list[Event]:
        """The events the public sees (neither withdrawn nor drafts), by start."""
        return await self._off_loop(self._store.public_events)

    async def public_event(self, event_id: str) -> Event | None:
        """A public event, or None (unknown, withdrawn or a draft)."""
        return await self._off_loop(self._store.event, event_id)

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
