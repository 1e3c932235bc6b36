"""A personal-reminder broadcast to 20,000 subscribers at a 1,000/s ceiling, against a bare PTB send loop.

`python -m bench.chat_broadcast [--subscribers 20000] [--rate 1000] [--crash-at N]` (from the repository root).

Each run against a fresh fake Bot API in a process of its own (as Telegram runs elsewhere), which enforces
Telegram's limits (30 a second, or 1,000 for messages sent as paid broadcasts; one a second per chat: a 429
otherwise) and stamps each message as it arrives; `--rounds` of each of the first two, in the order bare,
mine, mine, bare (so that a drift in the machine's other load weighs on both alike), then the third:

1. the bare loop: python-telegram-bot's `Bot.send_message` to the same chats with the same texts and
   buttons (allow_paid_broadcast when the rate is above 30), 64 requests in flight, no pacing, no database;
2. the real `Broadcaster` (queued by its sweep, claims, marks and receipts in SQLite, the shared rate
   limiter on the chat bot's `ExtBot`, [chat] paid_broadcast on above 30/s);
3. the same, killed after `--crash-at` messages (default: half) and finished by a new sender after its
   recovery, as after a crash.

Rates are messages over the time from the first arrival to the last, averaged over the rounds. The last lines
are `NAME: VALUE (target ...)`, one per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import httpx  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402
from telegram.error import RetryAfter  # noqa: E402
from telegram.ext import ExtBot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bench.chat_latency import serve_fake  # noqa: E402
from bot.chat.broadcast import IN_FLIGHT, Broadcaster, reminder_keyboard, reminder_text  # noqa: E402
from bot.chat.limiter import SharedRateLimiter  # noqa: E402
from bot.chat.telegram import TelegramCourier, markup  # noqa: E402
from bot.config import load_config, load_event  # noqa: E402
from bot.config.live import LiveConfig  # noqa: E402
from bot.domain import Event, Platform  # noqa: E402
from bot.ratelimit import RateLimits  # noqa: E402
from bot.storage import Store, open_database  # noqa: E402
from bot.storage.chat import ChatStore  # noqa: E402
from bot.storage.reminders import ReminderQueue  # noqa: E402
from bot.storage.tables import ReminderRow, SubscriberRow  # noqa: E402

TOKEN = "123456:BENCH-token"  # the same as chat_latency's fake
FIRST_CHAT = 1_000_000
FREE_RATE = 30  # Telegram's messages a second without paid broadcasts


@dataclass(frozen=True)
class Run:
    """What the fake received in one run."""

    name: str
    messages: int
    span: float
    busiest: int
    duplicates: int
    limit_hits: int
    states: dict[str, int]
    cpu: float = 0.0  # the sender's process, all threads, seconds

    @property
    def rate(self) -> float:
        return (self.messages - 1) / self.span if self.span else 0.0

    def show(self) -> None:
        states = f"; rows {self.states}" if self.states else ""
        print(f"{self.name:<28} {self.messages} messages in {self.span:6.2f} s = {self.rate:7.1f}/s "
              f"({1000 * self.cpu / max(1, self.messages):.2f} ms CPU each); busiest second {self.busiest}; "
              f"duplicates {self.duplicates}; 429s {self.limit_hits}{states}", flush=True)


@contextmanager
def fake_process(rate: float) -> Iterator[str]:
    """A fresh FakeTelegram in a process of its own, enforcing the limits; yields its base URL."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_fake, args=(child,), daemon=True)
    server.start()
    base_url: str = parent.recv()
    try:
        httpx.post(f"{base_url}/control/limits", json={"enforce": True, "global_rate": FREE_RATE,
                                                       "chat_interval": 1.0}, timeout=10)
        yield base_url
    finally:
        parent.send("stop")
        server.join(timeout=10)


def received(base_url: str, name: str, states: dict[str, int] | None = None, cpu: float = 0.0) -> Run:
    answer = httpx.get(f"{base_url}/control/received", timeout=60).json()["result"]
    messages = [(str(chat), float(moment)) for chat, moment in answer["messages"]]
    times = sorted(moment for _, moment in messages)
    per_chat = Counter(chat for chat, _ in messages)
    busiest, left = 0, 0
    for right, moment in enumerate(times):
        while moment - times[left] >= 1.0:
            left += 1
        busiest = max(busiest, right - left + 1)
    return Run(name=name, messages=len(times), span=times[-1] - times[0] if len(times) > 1 else 0.0,
               busiest=busiest, duplicates=sum(n - 1 for n in per_chat.values()),
               limit_hits=int(answer["limit_hits"]), states=states or {}, cpu=cpu)


def reference(start: datetime) -> Event:
    event = load_event(ROOT / "config" / "events" / "russia-dprk-treaty.yaml")
    return event.model_copy(update={"start": start.astimezone(event.zone),
                                    "end": (start + timedelta(hours=2)).astimezone(event.zone)})


def prepare(store: Store, event: Event, subscribers: int) -> None:
    """The reference event, starting in 59 minutes (its hour-before reminder is due), and the subscribers."""
    store.sync_event(event, "bench", [])
    add_subscribers(store, subscribers)


def add_subscribers(store: Store, subscribers: int) -> None:
    """`subscribers` people subscribed to every event, chats FIRST_CHAT onwards, one in three Russian."""
    if subscribers <= 0:
        return  # an empty list would make insert() write one row of defaults
    now = datetime.now(UTC)
    with store.sessions.begin() as session:
        session.execute(insert(SubscriberRow), [
            {"user_id": FIRST_CHAT + i, "chat_id": FIRST_CHAT + i, "lang": "ru" if i % 3 == 0 else "en",
             "active": True, "all_events": True, "created_at": now}
            for i in range(subscribers)
        ])


async def bare_loop(base_url: str, event: Event, subscribers: int, paid: bool) -> None:
    """PTB alone: the same messages to the same chats, IN_FLIGHT at a time, as fast as they go."""
    now = datetime.now(UTC)
    texts = {lang: (reminder_text(event, "reminder", lang, now), markup(reminder_keyboard(event.id, lang)))
             for lang in ("en", "ru")}
    bot = Bot(TOKEN, base_url=f"{base_url}/bot", request=HTTPXRequest(connection_pool_size=IN_FLIGHT))
    await bot.initialize()
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send(chat: int, lang: str) -> None:
        text, keyboard = texts[lang]
        try:
            await bot.send_message(chat_id=chat, text=text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                   disable_web_page_preview=True, allow_paid_broadcast=True if paid else None)
        except RetryAfter:
            pass  # counted by the fake
        finally:
            gate.release()

    tasks = []
    for i in range(subscribers):
        await gate.acquire()
        tasks.append(asyncio.create_task(send(FIRST_CHAT + i, "ru" if i % 3 == 0 else "en")))
    await asyncio.gather(*tasks)
    await bot.shutdown()


def broadcaster(base_url: str, store: Store, worker: str) -> tuple[Broadcaster, ExtBot[Any]]:
    """The Broadcaster as the chat bot builds it: its bot's requests through the token's shared limits."""
    limits = RateLimits().for_token(Platform.TELEGRAM, TOKEN)
    bot: ExtBot[Any] = ExtBot(TOKEN, base_url=f"{base_url}/bot", rate_limiter=SharedRateLimiter(limits),
                              request=HTTPXRequest(connection_pool_size=IN_FLIGHT))
    config = load_config(ROOT / "config")
    return Broadcaster(LiveConfig(config), ReminderQueue(store.sessions), TelegramCourier(bot), limits,
                       chats=ChatStore(store.sessions), worker=worker), bot


async def broadcast(base_url: str, event: Event, subscribers: int, crash_at: int | None) -> dict[str, int]:
    folder = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    try:
        store = Store(open_database(f"sqlite:///{folder / 'bench.db'}"))
        prepare(store, event, subscribers)
        first, bot = broadcaster(base_url, store, "first")
        await bot.initialize()
        started = time.monotonic()
        queued = await first.sweep()
        print(f"  {queued} reminders queued in {time.monotonic() - started:.2f} s", flush=True)
        if crash_at is None:
            await first.run(until_empty=True)
        else:
            sender = asyncio.create_task(first.run())
            while first.sent < crash_at:
                await asyncio.sleep(0.01)
            first.crash()  # killed: no release, no clean-up, no receipts written after this
            sender.cancel()
            await asyncio.gather(sender, *first._tasks, return_exceptions=True)
            print(f"  killed after {first.sent} messages; a new sender takes over", flush=True)
            await asyncio.sleep(0.5)  # the write already in its thread lands, as it would before a kill
            second, bot2 = broadcaster(base_url, store, "second")
            await bot2.initialize()
            await second.recover()
            await second.run(until_empty=True)
            await bot2.shutdown()
        await bot.shutdown()
        with store.sessions() as session:
            return dict(Counter(session.scalars(select(ReminderRow.state)).all()))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_broadcast", description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="the ceiling: [chat] broadcast_rate")
    parser.add_argument("--crash-at", type=int, default=None, help="kill the sender after this many (default: half)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of each, in the order bare, mine, mine, bare, ... (the load's drift cancels)")
    args = parser.parse_args(argv)
    paid = args.rate > FREE_RATE
    os.environ["ANNOUNCE_BOT_CHAT__BROADCAST_RATE"] = str(args.rate)
    os.environ["ANNOUNCE_BOT_CHAT__PAID_BROADCAST"] = "true" if paid else "false"
    event = reference(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=59))
    print(f"{args.subscribers} subscribers, ceiling {args.rate:g}/s{' (paid broadcast)' if paid else ''}", flush=True)
    bares: list[Run] = []
    mine: list[Run] = []
    for index in range(2 * args.rounds):
        with fake_process(args.rate) as url:
            cpu = time.process_time()
            if (index % 4) in (0, 3):
                asyncio.run(bare_loop(url, event, args.subscribers, paid))
                bares.append(received(url, "bare PTB send loop", cpu=time.process_time() - cpu))
                bares[-1].show()
            else:
                states = asyncio.run(broadcast(url, event, args.subscribers, None))
                mine.append(received(url, "announce-bot broadcaster", states, cpu=time.process_time() - cpu))
                mine[-1].show()
    with fake_process(args.rate) as url:
        states = asyncio.run(broadcast(url, event, args.subscribers, args.crash_at or args.subscribers // 2))
        crash = received(url, "killed mid-way, resumed", states)
    crash.show()
    bare_rate = statistics.fmean(run.rate for run in bares)
    rate = statistics.fmean(run.rate for run in mine)
    ratio = rate / bare_rate if bare_rate else 0.0
    cpu_ratio = (sum(r.cpu for r in bares) / sum(r.messages for r in bares)) / (
        sum(r.cpu for r in mine) / sum(r.messages for r in mine))
    print(f"broadcast_bare_rate: {bare_rate:.1f} msg/s (the baseline, mean of {len(bares)}; ceiling {args.rate:g})")
    print(f"broadcast_rate: {rate:.1f} msg/s (mean of {len(mine)}; ceiling {args.rate:g})")
    print(f"broadcast_ratio: {ratio:.2f} (target >= 0.8)")
    print(f"broadcast_cpu_ratio: {cpu_ratio:.2f} (the bare loop's CPU per message over the broadcaster's)")
    print(f"broadcast_duplicates: {sum(r.duplicates for r in mine)} (target 0)")
    print(f"broadcast_429s: {sum(r.limit_hits for r in mine)} (target 0)")
    print(f"broadcast_crash_duplicates: {crash.duplicates} (target 0)")
    print(f"broadcast_crash_unknown: {crash.states.get('unknown', 0)} (reported, not sent again)")
    return {"bare": bares[0], "broadcast": mine[0], "crash": crash, "ratio": ratio}


if __name__ == "__main__":
    main()
