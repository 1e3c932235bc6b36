"""Acting on posts and events: `post`, `retry`, `skip`, `approve`, `live`, `recording`, through the operations layer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from bot.cli.common import app, console, errors, state_of
from bot.cli.listing import event_of
from bot.cli.previewing import print_post
from bot.domain import Platform, PostKind

if TYPE_CHECKING:
    from bot.operations import ActionResult, GoLiveResult, Operations
    from bot.recording import RecordingResult


def print_results(results: Sequence[ActionResult]) -> None:
    from bot.operations import Result

    table = Table("target", "result", "details")
    for result in results:
        style = "green" if result.ok else ("yellow" if result.result is Result.RETRYING else "red")
        table.add_row(result.target or "", Text(result.result.value, style=style), result.message)
    console.print(table)


@app.command()
def post(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT", help="the event's id")],
    kind: Annotated[PostKind, typer.Argument(metavar="KIND", help="announcement, reminder, live, summary or changed")],
    platform: Annotated[list[Platform] | None, typer.Option("--platform", "-p", help="only this platform")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", help="only this target (settings name)")]
    = None,
    again: Annotated[bool, typer.Option("--again", help="send another copy where it already went out")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="render and show, send and record nothing")] = False,
    wait: Annotated[float, typer.Option(help="seconds to stay for retries (a rate limit, a network error)")] = 120.0,
) -> None:
    """Publish one kind of post of an event now, as part of its campaign (the scheduler will not send it again)."""
    from bot.delivery import render_post, targets_for
    from bot.operations import Result
    from bot.rendering.renderer import Renderer

    state = state_of(ctx)
    if dry_run:
        config = state.config
        event, _ = event_of(state, event_id)
        renderer = Renderer(config.templates_dir)
        names = [n for n in targets_for(config, kind, platform) if not target or n in target]
        for name in names:
            print_post(render_post(config, renderer, event, kind, name), kind.value)
        console.print(f"dry run: not sent, nothing recorded ({len(names)} target(s))")
        return
    runtime = state.runtime(observer=None)

    async def go() -> list[ActionResult]:
        try:
            await runtime.operations.sync_files()
            return await runtime.operations.publish(event_id, kind, platforms=platform, targets=target, again=again,
                                                    actor="cli", wait=wait)
        finally:
            await runtime.aclose()

    results = asyncio.run(go())
    print_results(results)
    if any(result.result is Result.NOT_FOUND for result in results):
        raise typer.Exit(2)
    if not all(result.ok for result in results):
        raise typer.Exit(1)


@app.command()
def retry(ctx: typer.Context, post_id: Annotated[int, typer.Argument(metavar="POST", help="the post's number")],
          now: Annotated[bool, typer.Option("--now", help="send it from here now instead of by the running bot")]
          = False) -> None:
    """Send a failed, skipped or unknown post again (the running bot picks it up within its sweep interval)."""
    async def act(ops: Operations) -> ActionResult:
        result = await ops.retry(post_id, actor="cli")
        if now and result.ok and result.post is not None:
            return await ops.publish_post(post_id, actor="cli")
        return result

    _post_action(ctx, act, not_found="; `announce-bot status` lists them")


@app.command()
def skip(ctx: typer.Context, post_id: Annotated[int, typer.Argument(metavar="POST", help="the post's number")],
         reason: Annotated[str | None, typer.Option(help="why, shown in status")] = None) -> None:
    """Decide that a post which has not gone out will not go out."""
    _post_action(ctx, lambda ops: ops.skip(post_id, actor="cli", reason=reason))


@app.command()
def approve(ctx: typer.Context, post_id: Annotated[int, typer.Argument(metavar="POST", help="the post's number")],
            who: Annotated[str, typer.Option("--as", help="the approver's name, for the record")] = "cli") -> None:
    """Sign off a post of a step with `approval: required` (for the event as it is now); if it was already due,
    the running bot sends it at its next sweep."""
    _post_action(ctx, lambda ops: ops.approve(post_id, actor=who))


def _post_action(ctx: typer.Context, act: Callable[[Operations], Awaitable[ActionResult]], *,
                 not_found: str = "") -> None:
    """Run one operation on a post and print what it said: exit 2 for no such post, 1 for a refusal."""
    from bot.operations import Result

    runtime = state_of(ctx).runtime()

    async def go() -> ActionResult:
        try:
            return await act(runtime.operations)
        finally:
            await runtime.aclose()

    result = asyncio.run(go())
    if result.result is Result.NOT_FOUND:
        errors.print(result.message + not_found)
        raise typer.Exit(2)
    (console if result.ok else errors).print(result.message)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def live(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT", help="the event's id")],
    link: Annotated[list[str], typer.Option("--link", "-l", help="PLATFORM=URL (telegram, vk, x, dzen, website), "
                                                                 "or a bare URL; repeatable")] = [],  # noqa: B006
) -> None:
    """We are live: set the stream links, send the live posts now (or at their time, if it has not come), point
    the pinned announcement at the stream and queue the subscribers' live reminder. Pressing twice sends nothing
    twice."""
    from bot.streams import parse_links

    result = _with_links(ctx, lambda ops: ops.go_live(event_id, parse_links(link), actor="cli"))
    if result.reminders:
        console.print(f"{result.reminders} subscriber(s) queued for the live reminder")
    if not result.ok:
        raise typer.Exit(1)


R = TypeVar("R", "GoLiveResult", "RecordingResult")  # named: the classes load with their command


def _with_links(ctx: typer.Context, act: Callable[[Operations], Awaitable[R]]) -> R:
    """Run an operation that sets an event's links (go live, the recording) after importing the event files, and
    print what it said and what each post it sent came to."""
    runtime = state_of(ctx).runtime()

    async def go() -> R:
        try:
            await runtime.operations.sync_files()
            return await act(runtime.operations)
        finally:
            await runtime.aclose()

    result = asyncio.run(go())
    (console if result.ok else errors).print(result.message)
    if result.posts:
        print_results(result.posts)
    return result


@app.command()
def recording(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT", help="the event's id")],
    link: Annotated[list[str], typer.Argument(metavar="URL...", help="a recording's URL (its place is told by its "
                                                                     "host: vk, rutube, youtube...), or PLACE=URL")],
) -> None:
    """After the event: set where its recording can be watched. A summary waiting for it goes out (now, if its time
    has come), and a summary that went out already is edited to carry it. Setting it twice sends nothing twice."""
    from bot.streams import parse_links

    if not _with_links(ctx, lambda ops: ops.recording(event_id, parse_links(link), actor="cli")).ok:
        raise typer.Exit(1)
