"""`events`, `plan` and `status`: what is planned and where it stands (none of them writes to the database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.cli.common import JsonOption, State, app, console, errors, local, print_json, state_of, title, utc
from bot.domain import Approval, Event, PlannedPost, Platform, PostState

if TYPE_CHECKING:
    from bot.planning import PlanItem
    from bot.storage import Store


# -- reading: events, plan, status, preview (none of them writes to the database) --------------------------


@dataclass(frozen=True, kw_only=True)
class EventLine:
    event: Event
    state: str  # scheduled, postponed, cancelled, withdrawn, or "not imported"
    origin: str
    source: str
    sent: int
    planned: int


def _event_lines(state: State) -> list[EventLine]:
    from bot.config import load_events
    from bot.planning import plan
    from bot.preparation import targets

    config = state.config
    files = load_events(config.events_dir)
    store = state.store(create=False)
    lines: dict[str, EventLine] = {}
    if store is not None:
        counts = store.post_counts()
        for stored in store.records():
            sent, planned = counts.get(stored.id, (0, 0))
            lines[stored.id] = EventLine(
                event=stored.event, state="withdrawn" if stored.withdrawn else stored.event.status.value,
                origin=stored.origin.value, source=stored.source, sent=sent, planned=planned)
    for event_id, event in files.events.items():
        if event_id not in lines:
            count = len(plan(event, config.campaign, targets(config)))
            lines[event_id] = EventLine(event=event, state="not imported", origin="file",
                                        source=str(files.sources[event_id]), sent=0, planned=count)
    for error in files.errors:
        errors.print(Text(f"✗ not imported: {error}", style="red"))
    return sorted(lines.values(), key=lambda line: (line.event.start, line.event.id))


@app.command("events")
def list_events(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the events: where each comes from, its state, how many of its posts went out."""
    lines = _event_lines(state_of(ctx))
    if as_json:
        print_json({"events": [{"id": line.event.id, "title": title(line.event), "start": line.event.start.isoformat(),
                           "end": line.event.end.isoformat(), "timezone": line.event.timezone, "state": line.state,
                           "origin": line.origin, "source": line.source, "posts_sent": line.sent,
                           "posts_planned": line.planned} for line in lines]})
        return
    table = Table("id", "title", "starts (local)", "state", "from", "posts sent/planned")
    for line in lines:
        table.add_row(line.event.id, title(line.event), local(line.event.start, line.event), line.state,
                      line.origin, f"{line.sent}/{line.planned}")
    console.print(table)


def event_of(state: State, event_id: str) -> tuple[Event, Store | None]:
    """The event as it stands (its file if it has one, else the stored version) and the store, if there is one."""
    from bot.config import load_events
    from bot.domain import EventOrigin

    config = state.config
    files = load_events(config.events_dir)
    store = state.store(create=False)
    stored = store.record(event_id) if store is not None else None
    if stored is not None and (stored.origin is EventOrigin.DASHBOARD or event_id not in files.events):
        return stored.event, store
    if event_id in files.events:
        return files.events[event_id], store
    for error in files.errors:
        errors.print(Text(f"✗ {error}", style="red"))
    known = sorted({*files.events, *(s.id for s in (store.records() if store is not None else []))})
    errors.print(f"no event {event_id!r} (known: {', '.join(known) or 'none'})")
    raise typer.Exit(2)


@app.command("plan")
def show_plan(ctx: typer.Context, event_id: Annotated[str, typer.Argument(metavar="EVENT", help="the event's id")],
              as_json: JsonOption = False) -> None:
    """Print an event's campaign timeline: local time, UTC, step, target, state (as stored, or as it would be)."""
    from bot.delivery import post_price, render_post, step_of
    from bot.errors import ConfigError, FitError
    from bot.operations import describe
    from bot.planning import unplanned_steps
    from bot.preparation import prepare
    from bot.rendering.renderer import Renderer

    state = state_of(ctx)
    event, store = event_of(state, event_id)
    stored = store.posts(event.id) if store is not None else []
    config = state.config
    renderer = Renderer(config.templates_dir)
    # Not imported yet: the plan as importing it now would make it, each post rendered and checked.
    items: list[PlannedPost | PlanItem] = list(stored) or list(prepare(event, config, renderer,
                                                                       datetime.now(UTC)).items)
    rows = []
    total = Decimal(0)
    for item in items:
        cost = None
        if item.platform is Platform.X and item.target in config.settings.targets:
            try:  # X bills per post: what each would cost, as it would be rendered now
                cost = post_price(config, render_post(config, renderer, event, item.kind, item.target,
                                                      step_of(config, item.step_id)))
            except (ConfigError, FitError):
                cost = None
        total += cost.total if cost else Decimal(0)
        if isinstance(item, PlannedPost):
            detail, post_state, post_id = describe(item), item.state.value, item.id
        else:
            post_state, post_id = "planned" if item.late is None or item.late.send else "skipped", None
            detail = "; ".join(["not imported yet: `announce-bot run` plans it",
                                *([item.late.reason] if item.late else []),
                                *([f"will not go out as planned: {item.render_error}"] if item.render_error else [])])
        rows.append({"id": post_id, "step": item.step_id, "kind": item.kind.value, "target": item.target,
                     "platform": item.platform.value, "lang": item.lang, "due": item.due_at.isoformat(),
                     "due_local": local(item.due_at, event), "state": post_state, "details": detail,
                     "price_usd": str(cost.total) if cost else None})
    unplanned = unplanned_steps(event, config.campaign)
    if as_json:
        print_json({"event": event.id, "posts": rows, "price_usd": str(total), "not_planned": unplanned})
        return
    for reason in unplanned:
        errors.print(Text(f"! {reason}", style="yellow"))
    table = Table("#", "local time", "UTC", "step", "kind", "target", "platform", "lang", "price", "state",
                  title=event.id)
    for row, item in zip(rows, items, strict=True):
        table.add_row(*(str(row[key] or "") for key in ("id", "due_local")), utc(item.due_at),
                      *(str(row[key]) for key in ("step", "kind", "target", "platform", "lang")),
                      f"${row['price_usd']}" if row["price_usd"] else "", str(row["details"]))
    console.print(table)
    if total:
        console.print(f"X: ${total} for this event's posts on X (a post with a link costs more; "
                      "`link_placement` on the X target chooses where links go)")


@app.command()
def status(ctx: typer.Context,
           event_id: Annotated[str | None, typer.Argument(metavar="[EVENT]", help="only this event")] = None,
           as_json: JsonOption = False) -> None:
    """Every planned post and its state: sent with link, retrying with the next attempt, failed or skipped with why."""
    from bot.storage.reminders import ReminderQueue

    state = state_of(ctx)
    store = state.store(create=False)
    if event_id is not None:
        event_of(state, event_id)
    posts = store.posts(event_id) if store is not None else []
    progress = ReminderQueue(store.sessions).progress(event_id) if store is not None else []
    if as_json:
        print_json({"posts": [_planned_json(post) for post in posts],
               "reminders": [{"event": p.event_id, "step": p.step_id, "total": p.total, "sent": p.sent,
                              "waiting": p.waiting, "failed": p.failed, "blocked": p.blocked, "skipped": p.skipped,
                              "unknown": p.unknown} for p in progress]})
        return
    if not posts:
        console.print("no posts are planned yet: `announce-bot run` imports the event files and plans them")
    else:
        print_status(store, posts)
    if progress:
        table = Table("event", "step", "sent", "waiting", "failed", "blocked", "skipped", "unknown",
                      title="personal reminders")
        for item in progress:
            table.add_row(item.event_id, item.step_id, f"{item.sent}/{item.total}", str(item.waiting),
                          str(item.failed), str(item.blocked), str(item.skipped), str(item.unknown))
        console.print(table)


def _planned_json(post: PlannedPost) -> dict[str, object]:
    return {"id": post.id, "event": post.event_id, "step": post.step_id, "kind": post.kind.value,
            "target": post.target, "platform": post.platform.value, "lang": post.lang, "due": post.due_at.isoformat(),
            "state": post.state.value, "reason": post.reason, "attempts": post.attempts,
            "next_attempt": post.next_attempt_at.isoformat() if post.next_attempt_at else None,
            "post_id": post.post_id, "link": post.link, "parts": list(post.parts), "manual": post.manual,
            "actor": post.actor, "approval": post.approval.value, "approved_by": post.approved_by,
            "approved_at": post.approved_at.isoformat() if post.approved_at else None,
            "problem": post.render_error if not post.state.settled else None}


_STYLES = {PostState.SENT: "green", PostState.FAILED: "red", PostState.UNKNOWN: "red", PostState.RETRYING: "yellow",
           PostState.SKIPPED: "dim", PostState.CANCELLED: "dim"}


def print_status(store: Store | None, posts: Sequence[PlannedPost]) -> None:
    from bot.operations import describe

    events = {event.id: event for event in (s.event for s in store.records())} if store is not None else {}
    table = Table("#", "due (local)", "event", "step", "target", "state", "details")
    for post in posts:
        event = events.get(post.event_id)
        details = post.link or "" if post.state in (PostState.SENT, PostState.PLANNED) else describe(post)
        if post.approval is Approval.PENDING:
            details = ("needs approval; " + details).strip("; ")
        elif post.approval is Approval.APPROVED and post.state is not PostState.SENT:
            details = f"approved by {post.approved_by}; {details}".strip("; ")
        due = local(post.due_at, event) if event else utc(post.due_at)
        table.add_row(str(post.id), due, post.event_id, post.step_id, post.target,
                      Text(post.state.value, style=_STYLES.get(post.state, "")), details)
    console.print(table)
