"""Delivery benchmarks (issue 5): how late a burst of due posts goes out, and what the pipeline costs.

Workload: `events` copies of the reference event (each with its own id and title) whose announcements
are all due at the same second, on `channels` Telegram channels (the campaign's own steps, narrowed to
Telegram), so events x channels posts of about 3.8 kB of HTML, one sendMessage each. The default is
200 events x 5 channels = 1,000 posts: a bot that posts to a handful of channels (Telegram's rate limit of
30 messages a second is per bot, whatever the channel), with a backlog of announcements due at once.
The other campaign steps of every event are planned too (5,000 rows in all), so the queries run on a
realistically filled table.

The Telegram channels are tests/fakes/telegram.py's FakeTelegram, subclassed here only to stamp the
arrival time of each accepted sendMessage, all served by a separate process (as Telegram is remote, and
so that the fake's HTTP handling does not compete with the bot for the GIL).

1. Lateness: the real Dispatcher, started with its real APScheduler wake-up and the real clock a couple
   of seconds before the due second; lateness = the fake's arrival time minus the due time. Once with
   rate limiting off and once with it on (30 messages a second for Telegram, so the burst takes ~33 s).
2. Throughput, rate limiting off: the same posts already due, from `Dispatcher.start()` until the last
   receipt is recorded (claim, render, record the attempt, send, record the delivery and the receipt),
   against a bare python-telegram-bot loop that sends the same pre-rendered texts with the same
   options: one Bot per channel (HTTPXRequest as the adapter builds it), each channel's messages one
   after the other, the channels concurrently -- the dispatcher's own model (per-target order). Rounds
   alternate bare and pipeline; the medians are compared. CPU time (all threads) is counted over the same
   windows: the bare loop from making its bots to closing them, the pipeline from `Dispatcher.start()` to its
   `stop()` (its adapters' bots made, used and closed); neither counts the benchmark's set-up.

Importing this module does nothing; `run(sizes)` runs everything and returns a Report, `main()` prints it.
Run it as `python -m bench.delivery [--quick]` or through `python -m bench` (spawned processes need the
`if __name__ == "__main__"` guard in any other script that calls `run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from bot.config import AppConfig
    from bot.domain import Event
    from bot.storage.claims import Claims

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-telegram-SECRET-token"
LAG_TARGET = 1.0  # p99 lateness, seconds, rate limiting off
RATIO_TARGET = 0.8  # pipeline throughput / bare loop throughput
LATENESS_RATIO_TARGET = 1.25  # p99 lateness of the burst / the bare loop's time for the same burst


@dataclass(frozen=True)
class Sizes:
    events: int
    channels: int
    rounds: int  # throughput rounds (bare loop and pipeline each)
    lead: float  # seconds from the dispatcher's start to the due second (at least)
    warmup_events: int

    @property
    def posts(self) -> int:
        return self.events * self.channels


FULL = Sizes(events=200, channels=5, rounds=3, lead=2.0, warmup_events=10)
QUICK = Sizes(events=10, channels=2, rounds=1, lead=1.0, warmup_events=0)


# --- the fake channels, in their own process -------------------------------------------------------


def _serve_fakes(conn: Connection, channels: int, token: str) -> None:
    """Child process: one timed FakeTelegram per channel; answers "collect" and "stop" over `conn`."""
    from tests.fakes.base import Reply, Request
    from tests.fakes.telegram import FakeTelegram

    class TimedTelegram(FakeTelegram):
        """Stamps the arrival of every sendMessage the fake accepted (time.time(), comparable across processes)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.arrivals: list[tuple[float, str]] = []
            self.arrivals_lock = threading.Lock()

        def handle(self, request: Request) -> Reply:
            arrived = time.time()
            reply = super().handle(request)
            if reply.status == 200 and request.path.endswith("/sendMessage"):
                digest = hashlib.blake2b(str(request.params.get("text", "")).encode(), digest_size=12).hexdigest()
                with self.arrivals_lock:
                    self.arrivals.append((arrived, digest))
            return reply

    fakes = [
        TimedTelegram(token, chat_id=f"@bench_channel_{i}", chat_numeric_id=-1001000000000 - i, title=f"Bench {i}")
        for i in range(1, channels + 1)
    ]
    for fake in fakes:
        fake.start()
    conn.send([fake.base_url for fake in fakes])
    try:
        while (command := conn.recv()) != "stop":
            if command == "collect":
                collected = []
                for fake in fakes:
                    with fake.arrivals_lock:
                        collected.append(fake.arrivals)
                        fake.arrivals = []
                    fake.messages.clear()  # between runs nothing is in flight; keeps memory flat
                    fake.requests.clear()
                conn.send(collected)
    finally:
        for fake in fakes:
            fake.stop()


class Channels:
    """The fake channels' process: their URLs and chat ids, and what each received since the last collect."""

    def __init__(self, channels: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fakes, args=(child, channels, TOKEN), daemon=True,
                                        name="bench-fake-telegram")
        self._process.start()
        child.close()
        if not self._conn.poll(60):
            self.close()
            raise RuntimeError("the fake Telegram process did not start")
        self.urls: list[str] = self._conn.recv()
        self.chat_ids = [f"@bench_channel_{i}" for i in range(1, channels + 1)]

    def collect(self) -> list[list[tuple[float, str]]]:
        """(arrival time, text digest) of every accepted sendMessage per channel, since the last call."""
        self._conn.send("collect")
        collected: list[list[tuple[float, str]]] = self._conn.recv()
        return collected

    def close(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._conn.close()


# --- results ----------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Delivered:
    """What the fake channels received in one run."""

    expected: int
    received: int
    duplicates: int  # messages received more than once (same channel, same text)
    missing: int

    @classmethod
    def of(cls, arrivals: list[list[tuple[float, str]]], expected: int) -> Delivered:
        seen = Counter((channel, digest) for channel, batch in enumerate(arrivals) for _, digest in batch)
        received = sum(seen.values())
        return cls(expected=expected, received=received, duplicates=received - len(seen),
                   missing=expected - len(seen))


@dataclass(frozen=True)
class Lateness:
    rate_limit: bool
    delivered: Delivered
    failed: int  # posts settled as anything but sent
    p50: float
    p99: float
    max: float
    first: float  # the earliest arrival (how soon after the due second the wake-up fired and sent)
    recorded_p99: float  # due -> receipt recorded in the database
    span: float  # first arrival -> last arrival


@dataclass(frozen=True)
class Throughput:
    messages: int
    bare: list[float]  # wall seconds per round
    pipeline: list[float]
    bare_cpu: list[float]  # CPU seconds of this (the bot's) process per round, all its threads
    pipeline_cpu: list[float]
    delivered: list[Delivered]
    failed: int

    @property
    def bare_rate(self) -> float:
        return self.messages / statistics.median(self.bare)

    @property
    def pipeline_rate(self) -> float:
        return self.messages / statistics.median(self.pipeline)

    @property
    def ratio(self) -> float:
        return self.pipeline_rate / self.bare_rate

    @property
    def cpu_ratio(self) -> float:
        """Bare CPU per message / pipeline CPU per message: the same ratio, blind to other load on the machine."""
        return statistics.median(self.bare_cpu) / statistics.median(self.pipeline_cpu)


@dataclass(frozen=True)
class Report:
    sizes: Sizes
    lateness: Lateness
    lateness_limited: Lateness
    throughput: Throughput
    seconds: float

    @property
    def lateness_ratio(self) -> float:
        """p99 lateness of the burst / the bare loop's median time for the same number of messages."""
        bare = statistics.median(self.throughput.bare) * self.sizes.posts / self.throughput.messages
        return self.lateness.p99 / bare

    @property
    def duplicates(self) -> int:
        runs = [self.lateness.delivered, self.lateness_limited.delivered, *self.throughput.delivered]
        return sum(d.duplicates for d in runs)


# --- the bot's side ---------------------------------------------------------------------------------


def _recording_claims(sessions: Any, expected: int) -> Claims:
    """The real Claims, also noting when each post is settled; `done` is set once `expected` are."""
    from bot.storage import Claims

    class RecordingClaims(Claims):
        def __init__(self) -> None:
            super().__init__(sessions)
            self.recorded: list[tuple[float, float]] = []  # (time.time(), perf_counter()) after a receipt
            self.others: Counter[str] = Counter()
            self.done = asyncio.Event()
            self.loop = asyncio.get_running_loop()  # settlements are written in a worker thread

        def _count(self) -> None:
            if len(self.recorded) + sum(self.others.values()) >= expected:
                self.loop.call_soon_threadsafe(self.done.set)

        def write_many(self, starts: Any, outcomes: Any, now: datetime) -> tuple[list[int | None], list[bool]]:
            result = super().write_many(starts, outcomes, now)
            self._note(outcomes)
            return result

        def settle_many(self, outcomes: Any, now: datetime) -> list[bool]:
            done = super().settle_many(outcomes, now)
            self._note(outcomes)
            return done

        def _note(self, outcomes: Any) -> None:
            for _, _, _, outcome in outcomes:
                if outcome.receipt is not None:
                    self.recorded.append((time.time(), time.perf_counter()))
                else:
                    self.others[outcome.state.value] += 1
            self._count()

    return RecordingClaims()


class Workspace:
    """A temporary copy of config/ and templates/ (the campaign narrowed to Telegram), its settings, the events,
    and a template database with every event planned, copied afresh for each run."""

    def __init__(self, root: Path, sizes: Sizes, channels: Channels) -> None:
        import yaml

        from bot.config import load_event

        self.root = root
        self.sizes = sizes
        self.channels = channels
        shutil.copytree(ROOT / "tests" / "fixtures" / "config", root / "config")  # never the user's own events
        shutil.copytree(ROOT / "templates", root / "templates")
        (root / "var").mkdir()
        self.token_file = root / "telegram.token"
        self.token_file.write_text(TOKEN, encoding="utf-8")
        campaign_path = root / "config" / "campaign.yaml"
        campaign = yaml.safe_load(campaign_path.read_text(encoding="utf-8"))
        campaign["platforms"] = ["telegram"]
        for step in campaign["steps"]:
            step.pop("platforms", None)
        campaign_path.write_text(yaml.safe_dump(campaign, allow_unicode=True, sort_keys=False), encoding="utf-8")
        self.base_event = load_event(root / "config" / "events" / "russia-dprk-treaty.yaml")
        self._runs = 0

    def config(self, database: Path, *, rate_limit: bool) -> AppConfig:
        from bot.config import load_config

        lines = [
            f'[database]\nurl = "sqlite:///{database}"\n',
            f"[delivery]\nrate_limit = {str(rate_limit).lower()}\n",
            "[web]\nenabled = false\n",
            "[chat]\nenabled = false\n",
        ]
        for index, (url, chat_id) in enumerate(zip(self.channels.urls, self.channels.chat_ids, strict=True)):
            lang = "en" if index % 2 == 0 else "ru"
            lines.append(
                f"[targets.channel_{index + 1}]\nplatform = \"telegram\"\nlang = \"{lang}\"\n"
                f"chat_id = \"{chat_id}\"\nurl = \"https://t.me/{chat_id[1:]}\"\n"
                f"token_file = \"{self.token_file}\"\napi_base_url = \"{url}\"\n"
            )
        (self.root / "config" / "settings.toml").write_text("\n".join(lines), encoding="utf-8")
        return load_config(self.root / "config")

    def events(self, start: datetime) -> list[Event]:
        from bot.domain import Event

        data = self.base_event.model_dump(mode="json")
        events = []
        for number in range(1, self.sizes.events + 1):
            title = data["title"]
            item = {
                **data,
                "id": f"bench-{number:04d}",
                "title": {lang: f"{text} (#{number})" for lang, text in title.items()} if isinstance(title, dict)
                else f"{title} (#{number})",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
            }
            events.append(Event.model_validate(item))
        return events

    def build(self) -> None:
        """The template database: every event stored and its whole campaign planned (announcements far ahead),
        each post rendered as saving an event renders it (bot.preparation): the sender only reads and sends."""
        from bot.preparation import prepare
        from bot.rendering.renderer import Renderer
        from bot.storage import Store, open_database

        path = self.root / "var" / "template.db"
        config = self.config(path, rate_limit=False)
        sessions = open_database(f"sqlite:///{path}")
        store = Store(sessions)
        renderer = Renderer(config.templates_dir)
        now = datetime.now(UTC)
        for event in self.events(now.replace(microsecond=0) + timedelta(days=30)):
            prepared = prepare(event, config, renderer, now)
            store.sync_event(event, "bench", list(prepared.items), now=now, planned_with=prepared.planned_with)
        sessions.kw["bind"].dispose()  # checkpoints the WAL into the file, which is then copied whole
        self.template = path

    def database(self) -> Path:
        self._runs += 1
        path = self.root / "var" / f"run-{self._runs}.db"
        shutil.copyfile(self.template, path)
        return path

    def open(self, rate_limit: bool, due: datetime, events: int) -> tuple[AppConfig, Any]:
        """A fresh copy of the database with the announcements of the first `events` events due at `due`."""
        from sqlalchemy import update

        from bot.storage import open_database
        from bot.storage.tables import PlannedPostRow

        path = self.database()
        config = self.config(path, rate_limit=rate_limit)
        sessions = open_database(f"sqlite:///{path}")
        with sessions.begin() as session:
            session.execute(
                update(PlannedPostRow)
                .where(PlannedPostRow.step_id == "announcement",
                       PlannedPostRow.event_id <= f"bench-{events:04d}")
                .values(due_at=due)
            )
        return config, sessions

    def close(self, sessions: Any) -> None:
        """Close a run's database and delete its files."""
        engine = sessions.kw["bind"]
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{engine.url.database}{suffix}").unlink(missing_ok=True)


async def _dispatch_all(ws: Workspace, *, rate_limit: bool, due: datetime, events: int,
                        timeout: float) -> tuple[Any, float, float]:
    """Start a real Dispatcher on a fresh database; wait until every due post is settled; stop it.

    Returns the claims (with their records), the perf_counter() at which `Dispatcher.start()` was called, and the
    CPU seconds this process spent from then until the dispatcher had stopped (its adapters' clients closed): the
    window of the bare loop's CPU too, which makes its bots, sends and closes them. Writing the run's settings,
    loading them and copying the database are the benchmark's set-up, outside it, as the bare loop's rendering is.
    """
    from bot.runtime import Runtime
    from bot.storage import Store
    from bot.storage.batching import Batcher

    config, sessions = ws.open(rate_limit, due, events)
    claims: Any = _recording_claims(sessions, events * ws.sizes.channels)
    runtime = Runtime.build(config, store=Store(sessions), notify=False, schedules=True)
    runtime.dispatcher.claims = claims
    runtime.dispatcher.batcher = Batcher(claims, runtime.dispatcher.clock)
    dispatcher = runtime.dispatcher
    cpu = time.process_time()
    started = time.perf_counter()
    try:
        await dispatcher.start()
        await asyncio.wait_for(claims.done.wait(), timeout)
        await dispatcher.drain()  # let the last tasks finish (they re-arm the wake-up after recording)
    finally:
        await dispatcher.stop()
        cpu = time.process_time() - cpu
        ws.close(sessions)
    return claims, started, cpu


async def measure_lateness(ws: Workspace, *, rate_limit: bool, events: int | None = None) -> Lateness:
    sizes = ws.sizes
    events = events or sizes.events
    due_at = math.ceil(time.time() + sizes.lead)
    due = datetime.fromtimestamp(due_at, UTC)
    timeout = sizes.lead + 60 + (events * sizes.channels / 30 if rate_limit else 0)
    claims, _, _ = await _dispatch_all(ws, rate_limit=rate_limit, due=due, events=events, timeout=timeout)
    arrivals = ws.channels.collect()
    lags = [arrived - due_at for batch in arrivals for arrived, _ in batch]
    recorded = [wall - due_at for wall, _ in claims.recorded]
    return Lateness(
        rate_limit=rate_limit,
        delivered=Delivered.of(arrivals, events * sizes.channels),
        failed=sum(claims.others.values()),
        p50=percentile(lags, 50),
        p99=percentile(lags, 99),
        max=max(lags),
        first=min(lags),
        recorded_p99=percentile(recorded, 99),
        span=max(lags) - min(lags),
    )


async def run_pipeline(ws: Workspace, events: int) -> tuple[float, int, float]:
    """Seconds from Dispatcher.start() to the last receipt recorded, with everything already due; failures; and
    the CPU seconds of the run (see `_dispatch_all`)."""
    due = datetime.now(UTC) - timedelta(seconds=1)
    claims, started, cpu = await _dispatch_all(ws, rate_limit=False, due=due, events=events, timeout=120)
    return claims.recorded[-1][1] - started, sum(claims.others.values()), cpu


def bare_messages(ws: Workspace, events: int) -> list[list[tuple[str, str | None]]]:
    """Per channel, (text, link) of every announcement exactly as the pipeline renders it."""
    from bot.delivery import render_post
    from bot.domain import PostKind
    from bot.rendering.renderer import Renderer

    config = ws.config(ws.root / "var" / "unused.db", rate_limit=False)
    renderer = Renderer(config.templates_dir)
    step = next(s for s in config.campaign.steps if s.id == "announcement")
    chosen = ws.events(datetime.now(UTC) + timedelta(days=30))[:events]
    messages: list[list[tuple[str, str | None]]] = []
    for target in config.settings.targets:
        posts = [render_post(config, renderer, event, PostKind.ANNOUNCEMENT, target, step) for event in chosen]
        if any(len(post.parts) != 1 or post.image for post in posts):
            raise RuntimeError("the bare loop mirrors one-message posts only")
        messages.append([(post.parts[0].text, post.link) for post in posts])
    return messages


async def run_bare(ws: Workspace, messages: list[list[tuple[str, str | None]]]) -> float:
    """Seconds for a bare PTB loop to send `messages`: one Bot per channel, sequential in a channel, channels
    concurrent; Bot creation and its getMe are inside the timing, as the adapter's are in the pipeline's."""
    from telegram import Bot, LinkPreviewOptions
    from telegram.constants import ParseMode
    from telegram.request import HTTPXRequest

    bots: list[Bot] = []

    async def channel(url: str, chat_id: str, texts: list[tuple[str, str | None]]) -> None:
        timeout = 15.0  # the adapter's request, as TelegramAdapter._ready_bot builds it
        request = HTTPXRequest(connection_pool_size=8, read_timeout=timeout, write_timeout=timeout,
                               connect_timeout=timeout, pool_timeout=timeout, media_write_timeout=timeout)
        bot = Bot(TOKEN, base_url=f"{url}/bot", request=request)
        bots.append(bot)
        await bot.initialize()
        for text, link in texts:
            await bot.send_message(chat_id=chat_id, text=text, parse_mode=ParseMode.HTML,
                                   link_preview_options=LinkPreviewOptions(url=link) if link else None,
                                   reply_parameters=None)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(channel(url, chat_id, texts) for url, chat_id, texts
                               in zip(ws.channels.urls, ws.channels.chat_ids, messages, strict=True)))
        return time.perf_counter() - started
    finally:
        for bot in bots:
            await bot.shutdown()


async def measure_throughput(ws: Workspace) -> Throughput:
    sizes = ws.sizes
    messages = bare_messages(ws, sizes.events)
    bare, pipeline, bare_cpu, pipeline_cpu, delivered, failed = [], [], [], [], [], 0
    for _ in range(sizes.rounds):
        cpu = time.process_time()
        bare.append(await run_bare(ws, messages))
        bare_cpu.append(time.process_time() - cpu)
        delivered.append(Delivered.of(ws.channels.collect(), sizes.posts))
        seconds, failures, cpu = await run_pipeline(ws, sizes.events)
        pipeline_cpu.append(cpu)
        pipeline.append(seconds)
        failed += failures
        delivered.append(Delivered.of(ws.channels.collect(), sizes.posts))
    return Throughput(messages=sizes.posts, bare=bare, pipeline=pipeline, bare_cpu=bare_cpu,
                      pipeline_cpu=pipeline_cpu, delivered=delivered, failed=failed)


async def _run(ws: Workspace) -> tuple[Lateness, Lateness, Throughput]:
    sizes = ws.sizes
    if sizes.warmup_events:  # imports, first-use caches: a long-running bot has paid them before the burst
        await run_bare(ws, [texts[: sizes.warmup_events] for texts in bare_messages(ws, sizes.warmup_events)])
        await run_pipeline(ws, sizes.warmup_events)
        ws.channels.collect()
    lateness = await measure_lateness(ws, rate_limit=False)
    throughput = await measure_throughput(ws)
    # Telegram allows 20 messages a minute in one channel (and 30 a second overall): with the limits on, a
    # burst of one window per channel shows the overall pace without waiting minutes for each channel's.
    limited = await measure_lateness(ws, rate_limit=True, events=min(sizes.events, 20))
    return lateness, limited, throughput


@contextlib.contextmanager
def _isolated(root: Path) -> Iterator[None]:
    """Work in `root`, without the caller's ANNOUNCE_BOT_* settings and with no proxy for loopback; restored after."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    for name in list(os.environ):
        if name.startswith("ANNOUNCE_BOT_"):
            del os.environ[name]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run(sizes: Sizes = FULL) -> Report:
    """Run every delivery benchmark at `sizes` in a temporary directory; nothing is left behind."""
    began = time.perf_counter()
    if str(ROOT) not in sys.path:  # the fakes' process imports tests.fakes from the project
        sys.path.insert(0, str(ROOT))
    root = Path(tempfile.mkdtemp(prefix="announce-bench-"))
    channels: Channels | None = None
    try:
        with _isolated(root):
            channels = Channels(sizes.channels)
            ws = Workspace(root, sizes, channels)
            ws.build()
            lateness, limited, throughput = asyncio.run(_run(ws))
    finally:
        if channels is not None:
            channels.close()
        shutil.rmtree(root, ignore_errors=True)
    return Report(sizes=sizes, lateness=lateness, lateness_limited=limited, throughput=throughput,
                  seconds=time.perf_counter() - began)


def _per_message(cpu: list[float], messages: int) -> str:
    return f"{statistics.median(cpu) / messages * 1000:.2f} ms/msg"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def format_report(report: Report) -> str:
    sizes, t = report.sizes, report.throughput
    lines = [
        f"== delivery: {sizes.posts:,} posts ({sizes.events} events x {sizes.channels} Telegram channels) "
        f"due at the same second ==",
    ]
    for lat in (report.lateness, report.lateness_limited):
        limit = "rate limit ON (30 msg/s)" if lat.rate_limit else "rate limit off"
        target = f" (target p99 < {LAG_TARGET:g} s)" if not lat.rate_limit else ""
        lines += [
            f"lateness, {limit}, due -> fake's receipt{target}:",
            f"  p50 {_ms(lat.p50)}   p99 {_ms(lat.p99)}   max {_ms(lat.max)}   first {_ms(lat.first)}   "
            f"(due -> receipt recorded, p99 {_ms(lat.recorded_p99)})",
            f"  received {lat.delivered.received}/{lat.delivered.expected}, duplicates {lat.delivered.duplicates}, "
            f"missing {lat.delivered.missing}, not sent {lat.failed}",
        ]
    received = sum(d.received for d in t.delivered)
    lines += [
        f"throughput, rate limit off, {t.messages:,} messages, median of {len(t.pipeline)} "
        f"(one Bot per channel, sequential per channel, channels concurrent):",
        f"  bare PTB send_message loop: {t.bare_rate:,.0f} msg/s   "
        f"({', '.join(f'{s:.2f}' for s in t.bare)} s; CPU {_per_message(t.bare_cpu, t.messages)})",
        f"  full pipeline:              {t.pipeline_rate:,.0f} msg/s   "
        f"({', '.join(f'{s:.2f}' for s in t.pipeline)} s; CPU {_per_message(t.pipeline_cpu, t.messages)})",
        f"  ratio pipeline / bare: {t.ratio:.2f} (target >= {RATIO_TARGET:g}); by CPU time per message "
        f"{t.cpu_ratio:.2f}",
        "  "
        f"received {received}/{t.messages * len(t.delivered)}, duplicates {sum(d.duplicates for d in t.delivered)}, "
        f"not sent {t.failed}",
        f"total duplicates: {report.duplicates}   bench time {report.seconds:.1f} s",
        # One line per figure, for scripts (the same as every benchmark's last lines).
        f"delivery_ratio: {t.ratio:.2f} (target >= {RATIO_TARGET:g})",
        f"delivery_cpu_ratio: {t.cpu_ratio:.2f} (target >= {RATIO_TARGET:g}; the stable figure on a shared machine)",
        f"delivery_p99_lateness_s: {report.lateness.p99:.2f} (target < {LAG_TARGET:g})",
        # The burst's p99 lateness against the bare loop's time for as many messages: 1.0 is as fast as a loop
        # that only sends.
        f"delivery_lateness_ratio: {report.lateness_ratio:.2f} (target <= {LATENESS_RATIO_TARGET:g})",
        f"delivery_duplicates: {report.duplicates} (target 0)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Report:
    """`python -m bench.delivery [--quick]`: run and print."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the benchmark still runs")
    report = run(QUICK if parser.parse_args(argv).quick else FULL)
    print(format_report(report), flush=True)
    return report


if __name__ == "__main__":
    main()
