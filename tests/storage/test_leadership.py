"""One replica at a time receives Telegram updates; when it dies another takes over within the retry time."""

from __future__ import annotations

import asyncio
import time

from bot.storage.database import create
from bot.storage.leadership import Leadership


async def test_one_leader_and_a_bounded_takeover(postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    first, second = Leadership(create(url), "chat", retry=0.2), Leadership(create(url), "chat", retry=0.2)
    stop = asyncio.Event()
    assert await first.acquire(stop)
    waiting = asyncio.create_task(second.acquire(stop))
    await asyncio.sleep(0.6)
    assert not waiting.done()  # the lock is held: the second replica waits
    assert await first.held()
    started = time.monotonic()
    first.release()  # the leader's connection goes away, as when its process dies
    assert await asyncio.wait_for(waiting, timeout=5)
    assert time.monotonic() - started < 1.0  # within about one retry interval
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
    holder, waiter = Leadership(create(url), "chat"), Leadership(create(url), "chat", retry=10)
    stop = asyncio.Event()
    assert await holder.acquire(stop)
    task = asyncio.create_task(waiter.acquire(stop))
    await asyncio.sleep(0.2)
    stop.set()
    assert await asyncio.wait_for(task, timeout=2) is False
    holder.release()
