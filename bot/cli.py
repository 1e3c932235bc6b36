"""The `announce-bot` command line: validate, events, plan, preview, post, run."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot import logs
from bot.abc import Adapter
from bot.adapters import OutboxAdapter, build_notifier
from bot.alerts import Alerts
from bot.config import AppConfig, Settings, load_config, load_events
from bot.delivery import Outcome, Publisher, render_post, step_targets, targets_for
from bot.domain import Event, Platform, PostKind, RenderedPost, Step
from bot.errors import AnnounceBotError, ConfigError, FitError
from bot.importing import import_events, targets
from bot.leadership import Leadership
from bot.planning import plan, rehearsal
from bot.platforms import SPECS
from bot.rendering.renderer import Renderer
from bot.scheduling import Dispatcher
from bot.storage import Claims, Store, open_database

if TYPE_CHECKING:
    from bot.chat import ChatBot
from bot.storage.database import DatabaseUnavailable, hold_process_lock, migrate
from bot.storage.database import create as create_engine_for
from bot.web import create_app
from bot.web.server import WebServer

app = typer.Typer(help="Announces public events on every platform, on time.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


@dataclass
class State:
    config_dir: Path
    log_level: str
    on_close: Callable[[Callable[[], None]], object] = lambda _: None  # the command's context's call_on_close
    _config: AppConfig | None = None

    @property
    def config(self) -> AppConfig:
        if self._config is None:
            try:
                config = load_config(self.config_dir)
            except ConfigError as exc:
                raise _fail(exc) from None
            log_settings = config.settings.logging
            logs.configure(log_settings.level or self.log_level, config.settings.all_secrets(),
                           json_lines=log_settings.format == "json")
            self._config = config
        return self._config

    def store(self, *, exclusive: bool = False) -> Store:
        """The database; `exclusive` (run, web): refused if another such process holds this SQLite file."""
        database = self.config.settings.database
        try:
            if exclusive and (lock := hold_process_lock(database.url)) is not None:
                self.on_close(lock.release)  # held while the command runs (a process runs one command)
            return Store(open_database(database.url, echo=database.echo))
        except DatabaseUnavailable as exc:
            raise _fail(exc) from None

    def renderer(self) -> Renderer:
        return Renderer(self.config.templates_dir)


def _fail(exc: AnnounceBotError, code: int = 2) -> typer.Exit:
    errors.print(Text(f"error: {exc}", style="red"))
    return typer.Exit(code)


def _state(ctx: typer.Context) -> State:
    state: State = ctx.obj
    return state


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="the config folder")] = Path("config"),
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "WARNING",
) -> None:
    ctx.obj = State(config_dir=config, log_level=log_level.upper(), on_close=ctx.call_on_close)


def _local(moment: datetime, event: Event) -> str:
    return moment.astimezone(event.zone).strftime("%Y-%m-%d %H:%M %Z")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check settings, campaign, templates, every event file and every post against the platforms' limits."""
    state = _state(ctx)
    config = state.config
    renderer = state.renderer()
    problems: list[str] = []
    for name in renderer.all_template_names():
        try:
            renderer.compile(name)
        except ConfigError as exc:
            problems.append(str(exc))
    files = load_events(config.events_dir)
    problems += [str(error) for error in files.errors]
    checked = 0
    for event_id, event in files.events.items():
        for step in config.campaign.steps:
            for target in step_targets(config, step):
                checked += 1
                try:
                    render_post(config, renderer, event, step.kind, target, step)
                except (ConfigError, FitError) as exc:
                    problems.append(f"{files.sources[event_id]}: {step.id} for {target}: {exc}")
    if problems:
        for problem in dict.fromkeys(problems):
            errors.print(Text(f"✗ {problem}", style="red"))
        errors.print(f"{len(problems)} problem(s) found")
        raise typer.Exit(1)
    console.print(
        f"✓ config {config.config_dir}: {len(config.settings.targets)} targets, "
        f"{len(config.campaign.steps)} campaign steps, {len(files.events)} events, {checked} posts fit their limits"
    )


@app.command("events")
def list_events(ctx: typer.Context) -> None:
    """List the events and their state."""
    state = _state(ctx)
    store = state.store()
    report = import_events(state.config, store)
    _print_import_errors(report.errors)
    table = Table("id", "title", "starts (local)", "status", "posts sent/planned")
    posts = store.posts()
    for event in store.events():
        mine = [p for p in posts if p.event_id == event.id]
        sent = sum(p.state == "sent" for p in mine)
        title = event.title if isinstance(event.title, str) else event.title.get(event.lang, "")
        table.add_row(event.id, title, _local(event.start, event), event.status.value, f"{sent}/{len(mine)}")
    console.print(table)


@app.command("plan")
def show_plan(ctx: typer.Context, event_id: Annotated[str, typer.Argument(metavar="EVENT")]) -> None:
    """Print an event's campaign timeline: local time, UTC, platform, kind, state."""
    state = _state(ctx)
    store = state.store()
    report = import_events(state.config, store)
    _print_import_errors(report.errors)
    event = _event(store, event_id)
    table = Table("local time", "UTC", "step", "kind", "target", "platform", "lang", "state", title=event.id)
    for post in store.posts(event.id):
        state_text = post.state + (f" ({post.reason})" if post.reason else "")
        if post.link:
            state_text += f" {post.link}"
        table.add_row(_local(post.due_at, event), _utc(post.due_at), post.step_id, post.kind, post.target,
                      post.platform, post.lang, state_text)
    console.print(table)


@app.command()
def preview(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT")],
    kind: Annotated[list[PostKind] | None, typer.Option("--kind", "-k")] = None,
    platform: Annotated[list[Platform] | None, typer.Option("--platform", "-p")] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", "-l")] = None,
) -> None:
    """Print the rendered posts of an event, with their length against each platform's limit."""
    state = _state(ctx)
    config = state.config
    event = _event_from_files(config, event_id)
    renderer = state.renderer()
    steps: list[tuple[str, PostKind, Step | None]] = [
        (step.id, step.kind, step) for step in config.campaign.steps if not kind or step.kind in kind
    ]
    # A kind the campaign does not plan (a change notice) is previewed on all the campaign's platforms.
    steps += [(k.value, k, None) for k in kind or () if all(s.kind is not k for s in config.campaign.steps)]
    failed = False
    for label, post_kind, step in steps:
        names = step_targets(config, step) if step else targets_for(config, post_kind)
        for name in names:
            target = config.settings.targets[name]
            if (platform and target.platform not in platform) or (lang and target.lang not in lang):
                continue
            try:
                post = render_post(config, renderer, event, post_kind, name, step)
            except (ConfigError, FitError) as exc:
                errors.print(Text(f"✗ {label} for {name}: {exc}", style="red"))
                failed = True
                continue
            _print_post(post, label)
    if failed:
        raise typer.Exit(1)


def _print_post(post: RenderedPost, label: str) -> None:
    spec = SPECS[post.platform]
    for index, part in enumerate(post.parts, 1):
        limit = spec.caption_length if post.image and index == 1 and spec.caption_length else spec.max_length
        title = f"{label} → {post.target} ({spec.label}, {post.lang})"
        if len(post.parts) > 1:
            title += f"  part {index}/{len(post.parts)}"
        subtitle = f"{part.length}/{limit}" + ("  · split to fit" if post.fitted else "")
        console.print(Panel(Text(part.text), title=title, subtitle=subtitle, title_align="left"))


@app.command()
def post(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT")],
    kind: Annotated[PostKind, typer.Argument(metavar="KIND")],
    platform: Annotated[list[Platform] | None, typer.Option("--platform", "-p")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="render and show, send nothing")] = False,
) -> None:
    """Publish one kind of post for one event now, on every platform of the campaign or the ones named."""
    state = _state(ctx)
    store = state.store()
    report = import_events(state.config, store)
    _print_import_errors(report.errors)
    event = _event(store, event_id)
    publisher = Publisher(state.config, store, state.renderer())
    targets = publisher.targets_for(kind, platform)
    if not targets:
        errors.print(f"no target publishes {kind.value} posts" + (f" on {', '.join(platform)}" if platform else ""))
        raise typer.Exit(1)

    async def go() -> list[Outcome]:
        try:
            return await publisher.publish(event, kind, targets, dry_run=dry_run)
        finally:
            await publisher.aclose()

    outcomes = asyncio.run(go())
    _print_outcomes(outcomes, dry_run)
    if any(not outcome.ok for outcome in outcomes):
        raise typer.Exit(1)


def _print_outcomes(outcomes: list[Outcome], dry_run: bool) -> None:
    if dry_run:
        for outcome in outcomes:
            if outcome.post:
                _print_post(outcome.post, outcome.kind.value)
    table = Table("target", "platform", "result", "post id", "link")
    for outcome in outcomes:
        if outcome.error is not None:
            table.add_row(outcome.target, outcome.platform.value,
                          Text(f"✗ {type(outcome.error).__name__}: {outcome.error}", style="red"), "", "")
        elif outcome.receipt is not None:
            table.add_row(outcome.target, outcome.platform.value, Text("✓ sent", style="green"),
                          outcome.receipt.post_id, outcome.receipt.link or "")
        else:
            table.add_row(outcome.target, outcome.platform.value, "dry run: not sent", "", "")
    console.print(table)


@app.command()
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="send what is due now, then exit")] = False,
    demo: Annotated[bool, typer.Option(
        "--demo", help="rehearse each event's campaign in under a minute, into a separate outbox, then exit")] = False,
) -> None:
    """Run the bot: import the events, plan their campaigns and publish every post when it is due."""
    state = _state(ctx)
    config = state.config
    if demo:
        config, store, publisher = _rehearsal(state)
    else:
        store = state.store(exclusive=True)
        publisher = Publisher(config, store, state.renderer(), observer=_show_outcome)
    report = import_events(config, store)
    _print_import_errors(report.errors)
    for result in report.results:
        console.print(f"event {result.event_id}: {result.outcome} (+{result.planned} planned, "
                      f"{result.replanned} re-planned, {result.cancelled} cancelled)")
    asyncio.run(_serve(config, store, publisher, once=once, until_done=demo))
    if demo or once:
        _print_status(store, None)


def _rehearsal(state: State) -> tuple[AppConfig, Store, Publisher]:
    """A throw-away database and outbox, and every event moved to start within a minute."""
    config = state.config
    folder = Path("var/rehearsal")
    shutil.rmtree(folder, ignore_errors=True)
    store = Store(open_database(f"sqlite:///{folder / 'rehearsal.db'}"))
    now = datetime.now(UTC)
    campaign = config.campaign
    for event in load_events(config.events_dir).events.values():
        moved, campaign = rehearsal(event, config.campaign, now)
        items = plan(moved, campaign, targets(config))
        store.sync_event(moved, "rehearsal", items)
    config = replace(config, campaign=campaign)
    outbox = folder / "outbox"
    console.print(f"rehearsal: posts go to {outbox}/, nothing is published")

    def to_outbox(name: str, settings: Settings) -> Adapter:
        return OutboxAdapter(name, settings.targets[name].platform, outbox)

    publisher = Publisher(config, store, state.renderer(), adapters=to_outbox, observer=_show_outcome)
    # The rehearsal's events live in its own database only: no re-reading of the real event files.
    return replace(config, config_dir=folder / "no-config"), store, publisher


async def _serve(config: AppConfig, store: Store, publisher: Publisher, *, once: bool, until_done: bool) -> None:
    alerts = Alerts(notify=build_notifier(config.settings))
    dispatcher = Dispatcher(config, store, Claims(store.sessions), publisher, alerts, reimport=not until_done)
    if once:
        await dispatcher.recover()
        await dispatcher.dispatch()
        await dispatcher.drain()
        await publisher.aclose()
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await dispatcher.start()
    web = await _start_web(config, store, publisher, dispatcher) if config.settings.web.enabled and not until_done \
        else None
    chat = None if until_done else asyncio.create_task(_chat_while_leading(config, store, publisher, alerts,
                                                                            dispatcher, stop))
    console.print("announce-bot is running; Ctrl-C stops it" if not until_done else "rehearsing…")
    while not stop.is_set():
        if until_done and not any(p.state in ("planned", "retrying", "claimed", "waiting") for p in store.posts()):
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    console.print("stopping: finishing the posts in flight…")
    if web is not None:
        await web.stop()
    if chat is not None:
        await chat  # it sees `stop` and stops the chat bot
    await dispatcher.stop()


async def _chat_while_leading(config: AppConfig, store: Store, publisher: Publisher, alerts: Alerts,
                              dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    """Run the chat bot; with long polling on a shared PostgreSQL database, only while this replica leads."""
    polling = config.settings.chat.mode == "polling"
    engine = store.sessions.kw["bind"]
    leadership = Leadership(engine, f"chat {config.settings.chat.bot_target}") if polling else None
    while not stop.is_set():
        if leadership is not None and not await leadership.acquire(stop):
            return
        chat = await _start_chat(config, store, publisher, alerts, dispatcher)
        if chat is None:
            if leadership is not None:
                leadership.release()
            return
        try:
            while not stop.is_set() and (leadership is None or await leadership.held()):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5.0)
        finally:
            await chat.stop()
            if leadership is not None:
                leadership.release()


async def _start_chat(config: AppConfig, store: Store, publisher: Publisher, alerts: Alerts,
                      dispatcher: Dispatcher) -> ChatBot | None:
    """The subscriber bot beside the scheduler, when `[chat]` is on and its Telegram target has a token."""
    from bot.chat import ChatUnavailable, chat_bot
    from bot.chat.broadcast import ConsoleProgress

    try:
        bot = chat_bot(config, store, publisher=publisher, alerts=alerts, on_retry=dispatcher.dispatch,
                       observer=ConsoleProgress(console))
    except ChatUnavailable as exc:
        console.print(f"chat bot off: {exc}")
        return None
    try:
        await bot.start()
    except Exception as exc:  # a bad token or no network: the channel posts go on without the chat bot
        errors.print(Text(f"✗ the chat bot did not start: {type(exc).__name__}", style="red"))
        with contextlib.suppress(Exception):
            await bot.stop()
        return None
    console.print(f"chat bot @{bot.services.bot_username} answers people ({config.settings.chat.mode})")
    return bot


async def _start_web(config: AppConfig, store: Store, publisher: Publisher, dispatcher: Dispatcher) -> WebServer | None:
    """Serve the web app beside the scheduler; if it cannot start, the bot goes on posting without it."""
    settings = config.settings.web
    try:
        server = WebServer(create_app(config, store, publisher, dispatcher=dispatcher), settings.host, settings.port)
        await server.start()
    except (OSError, ValueError) as exc:
        errors.print(Text(f"✗ the web app did not start: {exc}", style="red"))
        return None
    _print_web_banner(server, config)
    return server


def _print_web_banner(server: WebServer, config: AppConfig) -> None:
    console.print(f"web app: {server.url}/events (public), {server.url}/admin (dashboard), {server.url}/healthz")
    if config.settings.web.secret() is None:
        console.print(Text("the dashboard is locked until a password is set: ANNOUNCE_BOT_WEB__PASSWORD, "
                           "or password_file under [web] in settings.toml"))


@app.command("web")
def web_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on (default: web.host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: web.port; 0 picks a free one)")] = None,
) -> None:
    """Serve the web app alone: the dashboard, public event pages and feeds (`run` serves it beside the scheduler)."""
    state = _state(ctx)
    config = state.config
    store = state.store(exclusive=True)
    _print_import_errors(import_events(config, store).errors)
    publisher = Publisher(config, store, state.renderer(), observer=_show_outcome)
    settings = config.settings.web
    try:
        asyncio.run(_serve_web(config, store, publisher, host or settings.host,
                               settings.port if port is None else port))
    except (OSError, ValueError) as exc:
        errors.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(2) from None


async def _serve_web(config: AppConfig, store: Store, publisher: Publisher, host: str, port: int) -> None:
    server = WebServer(create_app(config, store, publisher), host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    _print_web_banner(server, config)
    console.print("serving the web app only (no posts are sent on schedule); Ctrl-C stops it")
    reported: set[str] = set()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=config.settings.delivery.reimport_interval)
            if not stop.is_set():  # keep the pages in step with the event files; say each new problem once
                problems = (await asyncio.to_thread(import_events, config, store)).errors
                _print_import_errors([p for p in problems if str(p) not in reported])
                reported = {str(p) for p in problems}
    finally:
        await server.stop()
        await publisher.aclose()


def _show_outcome(outcome: Outcome) -> None:
    post = outcome.post
    when = datetime.now().astimezone().strftime("%H:%M:%S")
    if outcome.receipt is not None:
        console.print(Text(f"{when} ✓ {outcome.kind.value} → {outcome.target}: "
                           f"{outcome.receipt.link or outcome.receipt.post_id}", style="green"))
        if post is not None and outcome.receipt.link and outcome.receipt.link.startswith("file:"):
            _print_post(post, outcome.kind.value)  # the outbox: show what would have been published
    elif outcome.error is not None:
        console.print(Text(f"{when} ✗ {outcome.kind.value} → {outcome.target}: "
                           f"{type(outcome.error).__name__}: {outcome.error}", style="red"))


@app.command()
def status(ctx: typer.Context, event_id: Annotated[str | None, typer.Argument(metavar="[EVENT]")] = None) -> None:
    """Every planned post and its state: sent with link, retrying with the next attempt, failed or skipped with why."""
    state = _state(ctx)
    store = state.store()
    if event_id is not None:
        _event(store, event_id)
    _print_status(store, event_id)
    _print_reminders(store, event_id)


def _print_reminders(store: Store, event_id: str | None) -> None:
    """How far each broadcast of personal reminders (the chat bot's) has got."""
    from bot.chat.broadcast import ReminderQueue

    progress = ReminderQueue(store.sessions).progress(event_id)
    if not progress:
        return
    table = Table("event", "step", "sent", "waiting", "failed", "blocked", "skipped", "unknown",
                  title="personal reminders")
    for item in progress:
        table.add_row(item.event_id, item.step_id, f"{item.sent}/{item.total}", str(item.waiting),
                      str(item.failed), str(item.blocked), str(item.skipped), str(item.unknown))
    console.print(table)


def _print_status(store: Store, event_id: str | None) -> None:
    events = {event.id: event for event in store.events()}
    table = Table("#", "due (local)", "event", "step", "target", "state", "details")
    styles = {"sent": "green", "failed": "red", "unknown": "red", "retrying": "yellow", "skipped": "dim"}
    for post in store.posts(event_id):
        event = events.get(post.event_id)
        details = post.link or ""
        if post.state == "retrying" and post.next_attempt_at:
            details = f"next attempt {_utc(post.next_attempt_at)} (attempt {post.attempts + 1}): {post.reason}"
        elif post.state not in ("sent", "planned") and post.reason:
            details = post.reason
        due = _local(post.due_at, event) if event else _utc(post.due_at)
        table.add_row(str(post.id), due, post.event_id, post.step_id, post.target,
                      Text(post.state, style=styles.get(post.state, "")), details)
    console.print(table)


@app.command()
def retry(ctx: typer.Context, post_id: Annotated[int, typer.Argument(metavar="POST")]) -> None:
    """Send a failed, skipped or unknown post again (the running bot picks it up within its sweep interval)."""
    state = _state(ctx)
    store = state.store()
    post = Claims(store.sessions).retry(post_id, datetime.now(UTC))
    if post is None:
        errors.print(f"no planned post #{post_id}; `announce-bot status` lists them")
        raise typer.Exit(2)
    if post.state != "planned":
        errors.print(f"post #{post_id} is {post.state}: only failed, skipped, unknown or retrying posts are retried")
        raise typer.Exit(1)
    console.print(f"post #{post_id} ({post.event_id} {post.step_id} on {post.target}) will be sent again now")


db = typer.Typer(help="The database: migrations.", no_args_is_help=True)
app.add_typer(db, name="db")


@db.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the database schema up to date (`run` does this on start too)."""
    state: State = ctx.obj
    settings = state.config.settings
    engine = create_engine_for(settings.database.url)
    try:
        migrate(engine)
    except DatabaseUnavailable as exc:
        raise _fail(exc) from None
    with engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    console.print(f"database {engine.url.render_as_string(hide_password=True)} is at revision {version}")


def _print_import_errors(problems: list[ConfigError]) -> None:
    for problem in problems:
        errors.print(Text(f"✗ not imported: {problem}", style="red"))


def _event(store: Store, event_id: str) -> Event:
    event = store.event(event_id)
    if event is None:
        known = ", ".join(e.id for e in store.events()) or "none"
        errors.print(f"no event {event_id!r} (known: {known})")
        raise typer.Exit(2)
    return event


def _event_from_files(config: AppConfig, event_id: str) -> Event:
    files = load_events(config.events_dir)
    if event_id in files.events:
        return files.events[event_id]
    for error in files.errors:
        errors.print(Text(f"✗ {error}", style="red"))
    errors.print(f"no valid event {event_id!r} in {config.events_dir} (known: {', '.join(files.events) or 'none'})")
    raise typer.Exit(2)


def main() -> None:
    app()
