"""`announce-bot report`: an event's reach, per platform and per post, in the terminal, as JSON, CSV or a PNG."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.cli.common import JsonOption, app, console, errors, print_json, state_of, utc

if TYPE_CHECKING:
    from bot.report import EventReport


@app.command("report")
def reach_report(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT", help="the event's id")],
    as_json: JsonOption = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="read the platforms now (within the budget; X bills "
                                                             "each post read: the cost is shown first)")] = False,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="also write the report as CSV to this file")] = None,
    png_file: Annotated[Path | None, typer.Option("--png", help="also write the one-page printable report (PNG, in "
                                                                "the event's language) to this file")] = None,
    wait: Annotated[float, typer.Option(help="seconds --refresh stays for a platform that asks to wait")] = 30.0,
) -> None:
    """What an event's posts reached: per platform and per post, views or impressions where the platform gives
    them, engagement, clicks through the bot's links, subscribers reminded, page views; "not available" where not."""
    runtime = state_of(ctx).runtime()
    reach = runtime.operations.reach

    async def go() -> EventReport | None:
        try:
            if refresh:  # what reading now costs, before anything is read (stderr: --json's stdout stays one document)
                for estimate in await asyncio.to_thread(reach.estimate, event_id):
                    errors.print(f"reading {estimate.allowed} of {estimate.posts} post(s) on {estimate.target}"
                                 + (f" costs ${estimate.cost}" if estimate.cost else "")
                                 + (f" (over {estimate.note})" if estimate.note else ""))
            return await reach.report(event_id, refresh=refresh, wait=wait)
        finally:
            await runtime.aclose()

    report = asyncio.run(go())
    if report is None:
        errors.print(f"no event {event_id!r} in the database (`announce-bot run` imports and plans it)")
        raise typer.Exit(2)
    if csv_file is not None:
        csv_file.write_text(report.csv(), encoding="utf-8")
    if png_file is not None:
        from bot.printable import printable_png

        png_file.write_bytes(printable_png(report))
    if as_json:
        print_json(report.as_json())
        return
    _print_report(report)


def _print_report(report: EventReport) -> None:
    table = Table("platform", "targets", "posts", "views", "engagement", "clicks", "note",
                  title=f"{report.event_id}: reach as of {utc(report.generated_at)}")
    for total in report.platforms:
        table.add_row(total.platform.value, ", ".join(total.targets), str(total.posts), _figure(total.views),
                      _figure(total.engagement), str(total.clicks), total.note or "")
    console.print(table)
    posts = Table("#", "target", "step", "sent", "views", "likes", "reposts", "replies", "reactions", "clicks", "note")
    for post in report.posts:
        replies = post.engagement.get("comments", post.engagement.get("replies"))
        posts.add_row(str(post.id), post.target, post.step, utc(post.sent_at), _figure(post.views),
                      *(_figure(post.engagement.get(name)) for name in ("likes", "reposts")), _figure(replies),
                      _figure(post.engagement.get("reactions")), str(post.clicks), post.note or "")
    console.print(posts)
    console.print(f"subscribers reminded: {report.reminded} · page views: {report.page_views} · calendar downloads: "
                  f"{report.calendar} · clicks through the bot's links: {report.clicks}"
                  + (f" · reading cost so far: ${report.cost}" if report.cost else ""))
    if report.refresh is not None:
        read = ", ".join(f"{target} {count}" for target, count in report.refresh.read.items()) or "nothing"
        console.print(f"read now: {read}" + (f" (${report.refresh.cost})" if report.refresh.cost else ""))
        for problem in report.refresh.problems:
            errors.print(Text(f"! {problem}", style="yellow"))


def _figure(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"
