"""Reply latency of `/next` through the fake Bot API, against a bare python-telegram-bot echo handler.

`python -m bench.chat_latency [--queries 1000] [--events 1000]` (from the repository root).

Both bots are the real PTB Application, up at the same time, each polling its own loopback fake
(tests/fakes/telegram.py) in a process of its own, as Telegram runs elsewhere: the fake's work does not
compete with the bot's for the GIL. Each query is a new user's message put in the fake's getUpdates queue;
its latency is the time from then until the fake receives the bot's sendMessage, both moments taken by the
fake (POST /control/ask). Queries alternate between the echo handler (the baseline) and `/next`, one at a
time and 20 ms apart (under the token's 30 replies a second, which the chat bot's shared rate limiter would
otherwise hold to), so that the rest of the machine's load weighs on both alike. The last lines are
`NAME: VALUE (target ...)`.
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
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import httpx  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.chat import chat_bot  # noqa: E402
from bot.config import load_config, load_event  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.storage import Store, open_database  # noqa: E402

TOKEN = "123456:BENCH-token"
WARM_UP = 50
PAUSE = 0.02  # seconds between a reply and the next query: each meets an idle bot, under the 30/s limit


def serve_fake(connection: Connection) -> None:
    """The child process: a FakeTelegram until the parent says stop."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram(TOKEN) as fake:
        fake._server.socket.listen(256)  # socketserver's backlog of 5 would refuse a burst of new connections
        connection.send(fake.base_url)
        connection.recv()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def fill(store: Store, count: int) -> None:
    """`count` events copied from the reference one, a day apart, all in the future."""
    reference = load_event(ROOT / "config" / "events" / "russia-dprk-treaty.yaml")
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for index in range(count):
        start = first + timedelta(days=index)
        event = reference.model_copy(update={"id": f"event-{index:05d}", "start": start.astimezone(reference.zone),
                                             "end": (start + timedelta(hours=2)).astimezone(reference.zone)})
        store.sync_event(event, "bench", [])


async def ask(control: httpx.AsyncClient, text: str, user_id: int) -> tuple[float, str]:
    answer = await control.post("/control/ask", json={"user_id": user_id, "text": text})
    result = answer.json()["result"]
    return float(result["latency_ms"]), str(result["text"])


async def start_echo(base_url: str) -> Any:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text or "-",
                                       parse_mode="HTML")

    app = ApplicationBuilder().token(TOKEN).base_url(f"{base_url}/bot").concurrent_updates(16).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=10)
    return app


async def stop_echo(app: Any) -> None:
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def compare(echo_url: str, chat_url: str, store: Store, count: int) -> tuple[list[float], list[float]]:
    """Both bots up at once, each polling its own fake; queries alternate between them, so that whatever
    else the machine does weighs on both alike."""
    os.environ["ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN"] = TOKEN
    os.environ["ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL"] = chat_url
    operations = Runtime.build(load_config(ROOT / "config"), store=store, notify=False).operations
    bot = chat_bot(operations.live, operations, poll_timeout=10)
    await bot.start()
    echo = await start_echo(echo_url)
    echo_times: list[float] = []
    next_times: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=echo_url, timeout=30) as to_echo, \
                httpx.AsyncClient(base_url=chat_url, timeout=30) as to_chat:
            for index in range(WARM_UP + count):
                first = (to_echo, echo_times, "/next") if index % 2 else (to_chat, next_times, "/next")
                second = (to_chat, next_times, "/next") if index % 2 else (to_echo, echo_times, "/next")
                for control, times, text in (first, second):
                    latency, last = await ask(control, text, 1_000_000 + index)
                    if index >= WARM_UP:
                        times.append(latency)
                    await asyncio.sleep(PAUSE)
                    if control is to_chat:
                        assert "Valdai Club to Discuss" in last, last  # the card of the next of the events
                    else:
                        assert last == "/next", last
    finally:
        await stop_echo(echo)
        await bot.stop()
    return echo_times, next_times


def report(name: str, values: list[float]) -> dict[str, float]:
    figures = {"p50": statistics.median(values), "p99": percentile(values, 0.99), "mean": statistics.fmean(values)}
    print(f"{name:<28} p50 {figures['p50']:7.2f} ms   p99 {figures['p99']:7.2f} ms   mean {figures['mean']:7.2f} ms")
    return figures


async def run(echo_url: str, chat_url: str, queries: int, events: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    try:
        store = Store(open_database(f"sqlite:///{folder / 'bench.db'}"))
        started = time.monotonic()
        fill(store, events)
        print(f"{events} events in the database ({time.monotonic() - started:.1f} s to import)")
        echo, chat = await compare(echo_url, chat_url, store, queries)
        print(f"{queries} queries each (after {WARM_UP} to warm up), alternating, one at a time, a new user each")
        base = report("bare PTB echo handler", echo)
        mine = report("/next (announce-bot)", chat)
        ratio = {key: mine[key] / base[key] for key in ("p50", "p99")}
        print(f"next_echo_p50: {base['p50']:.2f} ms (the baseline)")
        print(f"next_echo_p99: {base['p99']:.2f} ms (the baseline)")
        print(f"next_p50: {mine['p50']:.2f} ms")
        print(f"next_p99: {mine['p99']:.2f} ms")
        print(f"next_p50_ratio: {ratio['p50']:.2f}")
        print(f"next_p99_ratio: {ratio['p99']:.2f} (target <= 1.3)")
        return {"echo": base, "next": mine, "ratio": ratio}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    servers, pipes = [], []
    for _ in range(2):  # one fake for each bot: two pollers on one fake would share its updates
        parent, child = context.Pipe()
        server = context.Process(target=serve_fake, args=(child,), daemon=True)
        server.start()
        servers.append(server)
        pipes.append(parent)
    try:
        echo_url, chat_url = (pipe.recv() for pipe in pipes)
        return asyncio.run(run(echo_url, chat_url, args.queries, args.events))
    finally:
        for pipe, server in zip(pipes, servers, strict=True):
            pipe.send("stop")
            server.join(timeout=10)


if __name__ == "__main__":
    main()
