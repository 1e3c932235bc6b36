"""A personal-reminder broadcast to 10,000 subscribers at 30 messages per second, against the fake Bot API.

`python -m bench.chat_broadcast [--subscribers 10000] [--rate 30] [--crash-at N]` (from the repository root).

The fake runs in a process of its own (as Telegram runs elsewhere), enforces Telegram's limits (more than
`rate` messages in a second, or two to one chat within a second, get a 429) and stamps each message as it
arrives. Printed: the achieved rate (messages over the
time from the first to the last), the busiest second, duplicates (a chat given the reminder more than
once), 429s, and the rows' final states. With --crash-at N the sender is killed after N messages and a new
one (a restart) finishes the broadcast from the database.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from telegram import Bot  # noqa: E402

from bench.chat_latency import serve_fake  # noqa: E402
from bot.chat.broadcast import Broadcaster, ConsoleProgress, ReminderQueue  # noqa: E402
from bot.config import load_config, load_event  # noqa: E402
from bot.storage import Store, open_database  # noqa: E402
from bot.storage.tables import ReminderRow, SubscriberRow  # noqa: E402

TOKEN = "123456:BENCH-token"  # the same as chat_latency's fake


def prepare(store: Store, subscribers: int) -> None:
    """The reference event, starting in 59 minutes (its hour-before reminder is due), and the subscribers."""
    reference = load_event(ROOT / "config" / "events" / "russia-dprk-treaty.yaml")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=59)
    event = reference.model_copy(update={"start": start.astimezone(reference.zone),
                                         "end": (start + timedelta(hours=2)).astimezone(reference.zone)})
    store.sync_event(event, "bench", [])
    now = datetime.now(UTC)
    with store.sessions.begin() as session:
        session.execute(insert(SubscriberRow), [
            {"user_id": 1_000_000 + i, "chat_id": 1_000_000 + i, "lang": "ru" if i % 3 == 0 else "en",
             "active": True, "all_events": True, "created_at": now}
            for i in range(subscribers)
        ])


async def received(control: httpx.AsyncClient) -> tuple[list[tuple[str, float]], int]:
    answer = (await control.get("/control/received")).json()["result"]
    return [(str(chat), float(moment)) for chat, moment in answer["messages"]], int(answer["limit_hits"])


async def run(base_url: str, subscribers: int, rate: float, crash_at: int | None) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    os.environ["ANNOUNCE_BOT_CHAT__BROADCAST_RATE"] = str(rate)
    os.environ["ANNOUNCE_BOT_CHAT__PER_CHAT_INTERVAL"] = "1"
    try:
        store = Store(open_database(f"sqlite:///{folder / 'bench.db'}"))
        prepare(store, subscribers)
        config = load_config(ROOT / "config")
        console = Console(stderr=True)
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as control:
            await control.post("/control/limits", json={"enforce": True, "global_rate": int(rate),
                                                        "chat_interval": 1.0})
            bot = Bot(TOKEN, base_url=f"{base_url}/bot")
            await bot.initialize()
            started = time.monotonic()
            first = Broadcaster(config, store.sessions, bot, observer=ConsoleProgress(console), worker="first")
            queued = await first.sweep()
            print(f"{queued} reminders queued in {time.monotonic() - started:.2f} s")
            if crash_at is None:
                await first.run(until_empty=True)
            else:
                sender = asyncio.create_task(first.run())
                while first.sent < crash_at:
                    await asyncio.sleep(0.05)
                sender.cancel()  # killed: no release, no clean-up
                await asyncio.gather(sender, *first._tasks, return_exceptions=True)
                print(f"killed after {first.sent} messages; a new sender takes over")
                second = Broadcaster(config, store.sessions, bot, observer=ConsoleProgress(console),
                                     worker="second")
                await second.start()  # recovery, then the sweep and the sender
                while await asyncio.to_thread(ReminderQueue(store.sessions).open_count):
                    await asyncio.sleep(0.2)
                await second.stop()
            await bot.shutdown()
            messages, limit_hits = await received(control)
        return summarise(messages, limit_hits, store, subscribers, rate)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def summarise(messages: list[tuple[str, float]], limit_hits: int, store: Store, subscribers: int,
              rate: float) -> dict[str, Any]:
    times = sorted(moment for _, moment in messages)
    per_chat = Counter(chat for chat, _ in messages)
    duplicates = sum(count - 1 for count in per_chat.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (len(times) - 1) / span if span else 0.0
    busiest, left = 0, 0
    for right, moment in enumerate(times):
        while moment - times[left] >= 1.0:
            left += 1
        busiest = max(busiest, right - left + 1)
    with store.sessions() as session:
        states = Counter(session.scalars(select(ReminderRow.state)).all())
    print(f"subscribers                 {subscribers}")
    print(f"messages received           {len(times)} in {span:.1f} s")
    print(f"achieved rate               {achieved:.2f} per second (limit {rate:g}; target >= {0.95 * rate:.1f})")
    print(f"busiest 1-second window     {busiest} messages")
    print(f"duplicates                  {duplicates} (target 0)")
    print(f"429s from the fake          {limit_hits}")
    print(f"row states                  {dict(states)}")
    return {"messages": len(times), "rate": achieved, "busiest": busiest, "duplicates": duplicates,
            "limit_hits": limit_hits, "states": dict(states)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_broadcast", description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--crash-at", type=int, default=None, help="kill the sender after this many messages")
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_fake, args=(child,), daemon=True)
    server.start()
    try:
        return asyncio.run(run(parent.recv(), args.subscribers, args.rate, args.crash_at))
    finally:
        parent.send("stop")
        server.join(timeout=10)


if __name__ == "__main__":
    main()
