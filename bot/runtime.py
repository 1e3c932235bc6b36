"""Wires one process of the bot: the running configuration, the store, the sender and the operations layer, and
the services `run` starts beside them (the web app, the chat bot). The CLI only parses arguments and prints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url

from bot import logs
from bot.abc import Adapter
from bot.adapters import OutboxAdapter, build_adapter, build_notifier
from bot.alerts import Alerts
from bot.clock import Clock, utcnow
from bot.config import AppConfig, Settings, load_events
from bot.config.live import LiveConfig
from bot.delivery import AdapterFactory, Outcome, Publisher
from bot.domain import CLAIMABLE, Platform, PostState
from bot.importing import ImportReport
from bot.links import missing_public_url
from bot.operations import Operations, template_problems
from bot.planning import plan, rehearsal
from bot.preparation import targets
from bot.scheduling import Dispatcher, Periodic, worker_name
from bot.storage import Claims, Store, open_database
from bot.storage.accounts import UserRecord
from bot.storage.leadership import Leadership

if TYPE_CHECKING:
    from bot.chat import Approvals, ChatBot
    from bot.chat.max import MaxChat
    from bot.storage.reminders import Progress
    from bot.web.server import WebServer

log = logging.getLogger(__name__)

REHEARSAL_DIR = Path("var/rehearsal")


class Reporter(Protocol):
    """Where the running bot says what it does (the console, for `run`)."""

    def say(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...

    def outcome(self, outcome: Outcome) -> None: ...

    def progress(self, items: list[Progress]) -> None: ...


def _admin_chat(settings: Settings) -> tuple[object, ...]:
    """Where alerts go and the bot that sends them, with its token (perhaps from a file that changed)."""
    target = settings.targets.get(settings.admin.bot_target)
    return settings.admin.chat_id, target, target.secrets() if target is not None else None


def database_exists(url: str) -> bool:
    """False for an SQLite file not made yet (a read-only command must not create it); True otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return True
    return Path(parsed.database).exists()


@dataclass(kw_only=True)
class Runtime:
    """Everything one process uses, built once from one configuration; every part reads the configuration
    from `live`, so a reload reaches all of them at once."""

    live: LiveConfig
    store: Store
    alerts: Alerts
    publisher: Publisher
    dispatcher: Dispatcher
    operations: Operations

    @classmethod
    def build(
        cls, config: AppConfig, *, store: Store | None = None, adapters: AdapterFactory = build_adapter,
        clock: Clock = utcnow, worker: str | None = None, schedules: bool = False, notify: bool = True,
        observer: Callable[[Outcome], None] | None = None,
    ) -> Runtime:
        live = LiveConfig(config, check=template_problems)
        logs.follow(live)
        settings = config.settings
        store = store or Store(open_database(settings.database.url, echo=settings.database.echo))
        alerts = Alerts(notify=build_notifier(settings) if notify else None)
        if notify:
            live.subscribe(lambda old, new: alerts.redirect(build_notifier(new.settings))
                           if _admin_chat(old.settings) != _admin_chat(new.settings) else None)
        publisher = Publisher(live, adapters, clock=clock)
        dispatcher = Dispatcher(live, store, Claims(store.sessions), publisher, alerts, clock=clock,
                                worker=worker or worker_name(), observer=observer)
        operations = Operations(live, store, dispatcher, alerts, clock=clock, schedules=schedules)
        return cls(live=live, store=store, alerts=alerts, publisher=publisher, dispatcher=dispatcher,
                   operations=operations)

    @property
    def config(self) -> AppConfig:
        return self.live.current

    async def aclose(self) -> None:
        await self.publisher.aclose()


def rehearsal_runtime(config: AppConfig, *, observer: Callable[[Outcome], None] | None = None,
                      now: datetime | None = None) -> tuple[Runtime, Path]:
    """A throw-away database and outbox, and every event moved to start within a minute (`run --demo`)."""
    shutil.rmtree(REHEARSAL_DIR, ignore_errors=True)
    store = Store(open_database(f"sqlite:///{REHEARSAL_DIR / 'rehearsal.db'}"))
    moment = now or datetime.now(UTC)
    campaign = config.campaign
    for event in load_events(config.events_dir).events.values():
        moved, campaign = rehearsal(event, config.campaign, moment)
        store.sync_event(moved, "rehearsal", plan(moved, campaign, targets(config)), now=moment, skip_past=False)
    outbox = REHEARSAL_DIR / "outbox"

    def to_outbox(name: str, settings: Settings) -> Adapter:
        return OutboxAdapter(name, settings.targets[name].platform, outbox)

    # The rehearsal's events live in its own database only: its config points at no event files.
    rehearsed = replace(config, campaign=campaign, config_dir=REHEARSAL_DIR / "no-config")
    return Runtime.build(rehearsed, store=store, adapters=to_outbox, notify=False, observer=observer,
                         schedules=True), outbox


def summary(report: ImportReport) -> list[str]:
    """One line per event file imported, not one per post."""
    lines = []
    for result in report.results:
        if result.outcome == "unchanged":
            continue
        counts = [f"{n} {what}" for n, what in ((result.planned - result.past - result.held, "to send"),
                                                (result.held, "waiting (a draft, or no report yet)"),
                                                (result.replanned, "re-planned"), (result.cancelled, "cancelled"))
                  if n or (what == "to send" and result.planned)]
        if result.past:
            counts[-1] += f"; {result.past} already past when first seen: skipped, not sent late"
        lines.append(f"event {result.event_id}: {result.outcome}" + (f" ({', '.join(counts)})" if counts else ""))
    unchanged = sum(result.outcome == "unchanged" for result in report.results)
    if unchanged:
        lines.append(f"{unchanged} event(s) unchanged")
    lines += [f"event {event_id}: {note}" for event_id, note in report.notes]
    lines += [f"event {event_id}: ! {warning}" for event_id, warning in report.warnings]
    lines += [f"event {gone.event_id} withdrawn: {gone.reason}" for gone in report.withdrawn]
    lines += [f"{path}: ignored, the event {event_id!r} was taken over in the dashboard"
              for event_id, path in report.ignored]
    return lines


def web_notes(config: AppConfig, users: Sequence[UserRecord]) -> list[str]:
    """What the organiser should know when the web app starts: how one signs in to the dashboard (or that nobody
    can yet), and what links lack without public_url."""
    notes = []
    web = config.settings.web
    if not users:
        notes.append("the dashboard is locked: nobody can sign in yet. Add a user (`announce-bot user add NAME --role "
                     "admin`) or set a password (ANNOUNCE_BOT_WEB__PASSWORD, or password_file under [web])")
    else:
        ways = []
        with_password = [record.user.name for record in users if record.has_password]
        if with_password:
            shown = ", ".join(with_password[:5]) + (f" and {len(with_password) - 5} more" if len(with_password) > 5
                                                    else "")
            ways.append(f"with a password ({shown}; the settings' password is the user admin)" if any(
                record.from_settings for record in users) else f"with a password ({shown})")
        if web.telegram_login and any(record.user.telegram_id is not None for record in users):
            ways.append(f"with Telegram (@{web.telegram_login})")
        notes.append(f"dashboard sign-in at /admin/login: {' or '.join(ways) or 'nobody has a way in yet'}")
    if (missing := missing_public_url(config.settings)) is not None:
        notes.append(missing)
    return notes


class Service:
    """Runs the bot until stopped: the scheduler, the file watcher, the web app and the chat bot of one process."""

    def __init__(self, runtime: Runtime, reporter: Reporter, *, web: bool = True, chat: bool = True,
                 watch_files: bool = True) -> None:
        self.runtime = runtime
        self.reporter = reporter
        self.web_enabled = web
        self.chat_enabled = chat
        self.watch_files = watch_files
        self.stopping = asyncio.Event()
        self.web: WebServer | None = None
        self.chat: ChatBot | None = None  # on Telegram
        self.max_chat: MaxChat | None = None
        self._approvals: Approvals | None = None  # asked through both chat bots, in one round
        self._sourcing = asyncio.Lock()

    def chat_health(self) -> dict[str, object]:
        """The chat bots' side of /healthz: how each receives updates here, or why it does not run here (MAX's
        under "max")."""
        report = self._health(self.chat)
        if self.max_chat is not None:
            report["max"] = self._health(self.max_chat)
            report["ok"] = bool(report["ok"] and report["max"]["ok"])
        return report

    @staticmethod
    def _health(chat: ChatBot | MaxChat | None) -> dict[str, Any]:
        if chat is None:
            return {"ok": True, "running": False, "note": "not running in this process (off, or another replica "
                                                          "leads)"}
        health = chat.health()
        return {"ok": health.ok or health.state.value == "starting", "running": True, "mode": health.mode,
                "state": health.state.value, "since": health.since.isoformat() if health.since else None,
                "last_error": health.last_error, "failed_calls": health.failed_calls,
                "skipped_updates": health.skipped_updates}

    async def sources(self) -> None:
        """The periodic job: reload the configuration if its files changed, then import the event files."""
        if self.stopping.is_set():
            return
        async with self._sourcing:  # stopping waits for a run under way rather than cutting it off
            await self._sources()

    async def _sources(self) -> None:
        live = self.runtime.live
        if live.changed_on_disk():
            result = await self.runtime.operations.reload(actor="files")
            if not result.ok or result.restart:  # refused, or some of it waits for a restart: the organiser is told
                await self.runtime.alerts(result.message)
            return  # the reload imported the event files already
        await self.runtime.operations.sync_files()

    async def reload(self) -> None:
        result = await self.runtime.operations.reload(actor="SIGHUP")
        (self.reporter.say if result.ok else self.reporter.warn)(result.message)

    def _signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))

    async def serve_web_only(self) -> None:
        """Keep the event files and configuration in step (nothing is sent on schedule) until stopped."""
        self._signals()
        while not self.stopping.is_set():
            interval = self.runtime.config.settings.delivery.reimport_interval  # as it is now: reloads change it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=interval)
            if not self.stopping.is_set():
                await self.sources()
        await self._flush_counts()

    async def run_once(self) -> None:
        """Send what is due now, then stop (`run --once`)."""
        dispatcher = self.runtime.dispatcher
        await dispatcher.recover()
        await dispatcher.check_approvals()
        await dispatcher.dispatch()
        await dispatcher.drain()
        await self.runtime.aclose()

    async def serve(self, *, until_done: bool = False) -> None:
        """Run until SIGINT or SIGTERM (SIGHUP reloads the configuration), or with `until_done` until nothing
        is left to send."""
        runtime = self.runtime
        self._signals()
        periodic: list[Periodic] = [("sources", lambda s: s.delivery.reimport_interval, self.sources)] \
            if self.watch_files else []
        # What the posts reached, read after they went out (a job of its own: it never holds up a post).
        periodic.append(("reach", lambda s: s.reach.sweep_interval, runtime.operations.reach.sweep))
        await runtime.dispatcher.start(periodic)
        if self.web_enabled and runtime.config.settings.web.enabled:
            self.web = await self._start_web()
        chat = asyncio.gather(*(self._chat_while_leading(messenger) for messenger in (Platform.TELEGRAM, Platform.MAX))
                              ) if self.chat_enabled else None
        self.reporter.say("rehearsing…" if until_done else "announce-bot is running; Ctrl-C stops it")
        while not self.stopping.is_set():
            if until_done and not any(p.state in (*CLAIMABLE, PostState.CLAIMED, PostState.WAITING)
                                      for p in runtime.store.posts()):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=1.0)
        self.reporter.say("stopping: finishing the posts in flight…")
        self.stopping.set()
        if self.web is not None:
            await self.web.stop()
        if chat is not None:
            await chat  # they see `stopping` and stop the chat bots
        async with self._sourcing:  # an import under way finishes; none starts after `stopping`
            await runtime.dispatcher.stop()
        await self._flush_counts()

    async def _flush_counts(self) -> None:
        """The clicks, page views and calendar downloads counted since the last write."""
        try:
            await self.runtime.operations.reach.flush()
        except Exception:
            log.exception("could not write the last counts of clicks and page views")

    async def _start_web(self) -> WebServer | None:
        """Serve the web app beside the scheduler; if it cannot start, the bot goes on posting without it."""
        from bot.web import create_app
        from bot.web.server import WebServer

        runtime = self.runtime
        settings = runtime.config.settings.web
        try:
            app = create_app(runtime.live, runtime.operations, schedules=True,
                             clock=runtime.dispatcher.clock, chat_health=self.chat_health)
            server = WebServer(app, settings.host, settings.port)
            await server.start()
        except (OSError, ValueError) as exc:
            self.reporter.warn(f"the web app did not start: {exc}")
            return None
        self.reporter.say(f"web app: {server.url}/events (public), {server.url}/admin (dashboard), "
                          f"{server.url}/healthz")
        for line in web_notes(runtime.config, await asyncio.to_thread(runtime.operations.dashboard_users)):
            self.reporter.say(line)
        return server

    async def _chat_while_leading(self, messenger: Platform) -> None:
        """Run the chat bot on `messenger`; while it polls for updates on a shared PostgreSQL database (MAX always
        does), only while this replica leads."""
        runtime = self.runtime
        settings = runtime.config.settings.chat
        name = settings.bot_target if messenger is Platform.TELEGRAM else f"max {settings.max_target}"
        polling = settings.mode == "polling" or messenger is Platform.MAX
        leadership = Leadership(runtime.store.engine, f"chat {name}") if polling else None
        while not self.stopping.is_set():
            if leadership is not None and not await leadership.acquire(self.stopping):
                return
            chat = await self._start_chat(messenger)
            if chat is None:
                if leadership is not None:
                    leadership.release()
                return
            self._running(messenger, chat)
            try:
                while not self.stopping.is_set() and (leadership is None or await leadership.held()):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), timeout=5.0)
            finally:
                self._running(messenger, None)
                await chat.stop()
                if leadership is not None:
                    leadership.release()

    def _running(self, messenger: Platform, chat: ChatBot | MaxChat | None) -> None:
        from bot.chat import ChatBot

        if messenger is Platform.TELEGRAM:
            self.chat = chat if isinstance(chat, ChatBot) else None
        else:
            self.max_chat = None if isinstance(chat, ChatBot) else chat

    async def _start_chat(self, messenger: Platform = Platform.TELEGRAM) -> ChatBot | MaxChat | None:
        """The subscriber bot on `messenger` beside the scheduler, when `[chat]` is on and its target
        (`bot_target`, `max_target`) has a token."""
        from bot.chat import Approvals, ChatUnavailable, chat_bot
        from bot.chat.max import max_chat

        runtime = self.runtime
        on = "" if messenger is Platform.TELEGRAM else " on MAX"
        if self._approvals is None:
            self._approvals = Approvals(runtime.live, runtime.operations)
        make = chat_bot if messenger is Platform.TELEGRAM else max_chat
        try:
            bot = make(runtime.live, runtime.operations, alerts=runtime.alerts,
                       clock=runtime.dispatcher.clock, observer=self.reporter.progress,
                       worker=runtime.dispatcher.worker, limits=runtime.publisher.limits, approvals=self._approvals)
        except ChatUnavailable as exc:
            self.reporter.say(f"chat bot{on} off: {exc}")
            return None
        try:
            await bot.start()
        except Exception as exc:  # a bad token or no network: the channel posts go on without the chat bot
            self.reporter.warn(f"the chat bot{on} did not start: {type(exc).__name__}")
            with contextlib.suppress(Exception):
                await bot.stop()
            return None
        mode = runtime.config.settings.chat.mode if messenger is Platform.TELEGRAM else "polling"
        self.reporter.say(f"chat bot{on} @{bot.services.bot_username} answers people ({mode})")
        return bot
