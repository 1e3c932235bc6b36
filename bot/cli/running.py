"""`run` and `web`: the bot (or its web app alone) in the foreground, and what it prints meanwhile."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from bot.cli.common import app, console, errors, state_of
from bot.cli.listing import print_status
from bot.domain import PostState

if TYPE_CHECKING:
    from bot.delivery import Outcome
    from bot.storage.reminders import Progress


class ConsoleReporter:
    """What `run` prints: one line per outcome, the start-up summary, progress bars while reminders go out."""

    def __init__(self) -> None:
        self._bars: RichProgress | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def say(self, text: str) -> None:
        console.print(text)

    def warn(self, text: str) -> None:
        errors.print(Text(f"✗ {text}", style="red"))

    def outcome(self, outcome: Outcome) -> None:
        when = datetime.now().astimezone().strftime("%H:%M:%S")
        label = f"{when} {outcome.kind.value} → {outcome.target}"
        if outcome.receipt is not None:
            console.print(Text(f"{label}: {outcome.receipt.link or outcome.receipt.post_id}", style="green"))
        elif outcome.state is PostState.RETRYING:
            console.print(Text(f"{label}: retrying ({outcome.note})", style="yellow"))
        elif outcome.error is not None or outcome.state is not None:
            console.print(Text(f"{label}: {outcome.state.value if outcome.state else 'not sent'}: "
                               f"{outcome.note or outcome.error}", style="red"))

    def progress(self, items: list[Progress]) -> None:
        active = [p for p in items if p.waiting]
        if self._bars is None:
            if not active:
                return
            self._bars = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[note]}"), TimeRemainingColumn(), console=console)
            self._bars.start()
        for item in items:
            key = (item.event_id, item.step_id)
            if key not in self._tasks:
                if not item.waiting:
                    continue
                self._tasks[key] = self._bars.add_task(f"reminders {item.event_id} {item.step_id}",
                                                       total=item.total, note="")
            note = ", ".join(f"{n} {what}" for n, what in ((item.failed, "failed"), (item.blocked, "blocked"),
                                                           (item.unknown, "unknown")) if n)
            self._bars.update(self._tasks[key], completed=item.done, total=item.total, note=note)
        if not active:
            self._bars.stop()
            self._bars = None
            self._tasks.clear()


@app.command()
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="send what is due now, then exit")] = False,
    demo: Annotated[bool, typer.Option(
        "--demo", help="rehearse each event's campaign in under a minute, into a separate outbox, then exit")] = False,
) -> None:
    """Run the bot: import the events, plan their campaigns and publish every post when it is due."""
    from bot.runtime import Service, rehearsal_runtime, summary

    state = state_of(ctx)
    reporter = ConsoleReporter()
    if demo:
        runtime, outbox = rehearsal_runtime(state.config, observer=reporter.outcome)
        console.print(f"rehearsal: posts go to {outbox}/, nothing is published")
        service = Service(runtime, reporter, web=False, chat=False, watch_files=False)
        asyncio.run(service.serve(until_done=True))
        print_status(runtime.store, runtime.store.posts())
        return
    runtime = state.runtime(observer=reporter.outcome, schedules=not once, exclusive=True)

    async def go() -> None:
        report = await runtime.operations.sync_files()
        for line in summary(report):
            console.print(line)
        service = Service(runtime, reporter)
        if once:
            await service.run_once()
        else:
            await service.serve()

    asyncio.run(go())
    if once:
        print_status(runtime.store, runtime.store.posts())


@app.command("web")
def web_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on (default: web.host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: web.port; 0 picks a free one)")] = None,
) -> None:
    """Serve the web app alone: the dashboard, public event pages and feeds (`run` serves it beside the scheduler)."""
    from bot.runtime import Service, summary, web_notes
    from bot.web import create_app
    from bot.web.server import WebServer

    state = state_of(ctx)
    runtime = state.runtime(exclusive=True)
    settings = runtime.config.settings.web

    async def go() -> None:
        for line in summary(await runtime.operations.sync_files()):
            console.print(line)
        server = WebServer(create_app(runtime.live, runtime.operations),
                           host or settings.host, settings.port if port is None else port)
        await server.start()
        console.print(f"web app: {server.url}/events (public), {server.url}/admin (dashboard), {server.url}/healthz")
        for line in web_notes(runtime.config, runtime.operations.dashboard_users()):
            console.print(line)
        console.print("serving the web app only (no posts are sent on schedule); Ctrl-C stops it")
        service = Service(runtime, ConsoleReporter(), web=False, chat=False)
        try:
            await service.serve_web_only()
        finally:
            await server.stop()
            await runtime.aclose()

    try:
        asyncio.run(go())
    except (OSError, ValueError) as exc:
        errors.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(2) from None
