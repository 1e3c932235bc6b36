"""Reply latency of `/next` through the fake Bot API, against a bare python-telegram-bot echo handler.

`python -m bench.chat_latency [--queries 1000] [--events 1000]` (from the repository root, NO_PROXY=127.0.0.1).

Both bots run the real PTB Application polling the same loopback fake (tests/fakes/telegram.py); each query
is a new user's message put in the fake's getUpdates queue, and its latency is the time from then until the
fake receives the bot's sendMessage (both timestamps taken by the fake, so the benchmark's own waiting is
not counted). The echo handler is measured in the same run, right before, as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.chat import chat_bot  # noqa: E402
from bot.config import load_config, load_event  # noqa: E402
from bot.storage import Store, open_database  # noqa: E402
from tests.fakes.telegram import FakeTelegram, User  # noqa: E402

TOKEN = "123456:BENCH-token"
WARM_UP = 50
PAUSE = 0.01  # seconds between a reply and the next query


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def fill(store: Store, count: int) -> None:
    """`count` events copied from the reference one, a day apart, all in the future."""
    reference = load_event(ROOT / "config" / "events" / "russia-dprk-treaty.yaml")
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for index in range(count):
        start = first + timedelta(days=index)
        event = reference.model_copy(update={"id": f"event-{index:05d}", "start": start.astimezone(reference.zone),
                                             "end": (start + timedelta(hours=2)).astimezone(reference.zone)})
        store.sync_event(event, "bench", [])


async def measure(fake: FakeTelegram, text: str, count: int, first_user: int) -> list[float]:
    """Send `count` messages, one at a time, each from a new user; the latency of each reply, in ms."""
    latencies = []
    for index in range(count):
        user = User(id=first_user + index, first_name="Bench", language_code="en")
        since = fake.mark()
        sent_at = time.monotonic()
        fake.send(user, text)
        (reply, *_) = await fake.wait_messages(user.id, 1, since, timeout=10)
        latencies.append((reply["time"] - sent_at) * 1000)
        # The fake has the reply before the bot has read Telegram's answer to it: let the bot finish, so
        # that each query meets an idle bot (a person's next message never comes within milliseconds).
        await asyncio.sleep(PAUSE)
    return latencies


async def echo_run(fake: FakeTelegram, count: int) -> list[float]:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text or "-",
                                       parse_mode="HTML")

    app = ApplicationBuilder().token(TOKEN).base_url(f"{fake.base_url}/bot").concurrent_updates(16).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=10)
    try:
        await measure(fake, "/next", WARM_UP, 1_000_000)
        return await measure(fake, "/next", count, 2_000_000)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def next_run(fake: FakeTelegram, store: Store, count: int) -> list[float]:
    os.environ["ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN"] = TOKEN
    os.environ["ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL"] = fake.base_url
    config = load_config(ROOT / "config")
    bot = chat_bot(config, store, poll_timeout=10)
    await bot.start()
    try:
        await measure(fake, "/next", WARM_UP, 3_000_000)
        replies = await measure(fake, "/next", count, 4_000_000)
        last = fake.messages[-1]["text"]
        assert "Valdai Club to Discuss" in last and "event-00000" in last, last[:200]
        return replies
    finally:
        await bot.stop()


def report(name: str, values: list[float]) -> dict[str, float]:
    figures = {"p50": statistics.median(values), "p99": percentile(values, 0.99), "mean": statistics.fmean(values)}
    print(f"{name:<28} p50 {figures['p50']:7.2f} ms   p99 {figures['p99']:7.2f} ms   mean {figures['mean']:7.2f} ms")
    return figures


async def main_async(queries: int, events: int) -> dict[str, Any]:
    # The fake Bot API runs in this interpreter (threads), unlike Telegram: with CPython's default 5 ms GIL
    # switch interval, a reply waits up to 5 ms whenever the fake's thread holds the GIL. A shorter interval
    # keeps that artefact out of both measurements alike.
    sys.setswitchinterval(0.0002)
    folder = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    try:
        store = Store(open_database(f"sqlite:///{folder / 'bench.db'}"))
        started = time.monotonic()
        fill(store, events)
        print(f"{events} events in the database ({time.monotonic() - started:.1f} s to import)")
        with FakeTelegram(TOKEN) as fake:
            assert isinstance(fake, FakeTelegram)
            echo = await echo_run(fake, queries)
            chat = await next_run(fake, store, queries)
        print(f"{queries} queries each, one at a time, a new user each time")
        base = report("bare PTB echo handler", echo)
        mine = report("/next (announce-bot)", chat)
        ratio = {key: mine[key] / base[key] for key in ("p50", "p99")}
        print(f"ratio /next : echo            p50 {ratio['p50']:.2f}   p99 {ratio['p99']:.2f}   (target <= 1.5)")
        return {"echo": base, "next": mine, "ratio": ratio}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.queries, args.events))


if __name__ == "__main__":
    main()
