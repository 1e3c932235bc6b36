"""One replica at a time receives Telegram updates; when it dies another takes over at its next try."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, event

from bot.storage.database import create
from bot.storage.leadership import Leadership

pytestmark = pytest.mark.slow  # PostgreSQL only


class Tries:
    """Counts a replica's asks for the lock (pg_try_advisory_lock) as the database receives them, so that a test
    waits for the next one instead of for time to pass."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._changed = threading.Condition()
        event.listen(engine, "after_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        if "pg_try_advisory_lock" in args[2]:  # (connection, cursor, statement, ...)
            with self._changed:
                self.count += 1
                self._changed.notify_all()

    async def reach(self, count: int) -> None:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: self.count >= count, timeout=30)

        assert await asyncio.to_thread(wait), f"{self.count} tries, not {count}"


async def test_one_leader_and_a_takeover_at_the_next_try(postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    first, second = Leadership(create(url), "chat", retry=0.5), Leadership(create(url), "chat", retry=0.5)
    tries = Tries(second.engine)
    stop = asyncio.Event()
    assert await first.acquire(stop)
    waiting = asyncio.create_task(second.acquire(stop))
    await tries.reach(2)  # asked twice, refused twice: the lock is held
    assert not waiting.done()
    assert await first.held()
    before = tries.count
    first.release()  # the leader's connection goes away, as when its process dies
    assert await asyncio.wait_for(waiting, timeout=30)
    # Taken at the next try: a try already under way when the lock went may still have been refused.
    assert tries.count - before <= 2
    assert await second.held()
    second.release()


async def test_other_names_do_not_compete_and_sqlite_always_leads(postgres, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    stop = asyncio.Event()
    chat, other = Leadership(create(url), "chat"), Leadership(create(url), "another bot")
    assert await chat.acquire(stop) and await other.acquire(stop)
    chat.release()
    other.release()
    assert await Leadership(create(f"sqlite:///{tmp_path / 'x.db'}"), "chat").acquire(stop)


async def test_stop_ends_the_wait(postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    holder, waiter = Leadership(create(url), "chat"), Leadership(create(url), "chat", retry=3600)
    tries = Tries(waiter.engine)
    stop = asyncio.Event()
    assert await holder.acquire(stop)
    task = asyncio.create_task(waiter.acquire(stop))
    await tries.reach(1)  # refused once: now it waits an hour for its next try
    stop.set()
    assert await asyncio.wait_for(task, timeout=30) is False  # the stop, not the hour, ended it
    holder.release()
