"""The `announce-bot` command line: parses arguments, calls the operations layer, prints what came back."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from bot import logs
from bot.config import AppConfig, load_config, load_events
from bot.config.export import draft_from, event_yaml
from bot.delivery import Outcome, post_price, render_post, step_of, step_targets, targets_for
from bot.domain import (
    Approval,
    Event,
    EventOrigin,
    EventStatus,
    PlannedPost,
    Platform,
    PostKind,
    PostState,
    RenderedPost,
    Step,
    pick,
)
from bot.errors import AnnounceBotError, ConfigError, FitError
from bot.importing import targets
from bot.operations import ActionResult, GoLiveResult, Operations, Result, describe, platform_of_link, template_problems
from bot.planning import PlanItem, plan
from bot.platforms import SPECS
from bot.rendering.checks import EventWarning, copied_texts, event_warnings, mixed_language
from bot.rendering.context import zone_label
from bot.rendering.pricing import PostPrice
from bot.rendering.renderer import Renderer
from bot.runtime import Runtime, Service, database_exists, rehearsal_runtime, summary, web_notes
from bot.storage import Store, open_database
from bot.storage.database import DatabaseUnavailable, hold_process_lock, migrate
from bot.storage.database import create as create_engine_for
from bot.storage.reminders import Progress, ReminderQueue
from bot.summaries import synopsis
from bot.usercli import users

app = typer.Typer(help="Announces public events on every platform, on time.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
# Piped output is read by scripts: never cut an id or a link to fit 80 columns.
# markup=False: texts such as "[web] public_url" are printed as written, never read as styles.
console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 100_000)
errors = Console(stderr=True, highlight=False, markup=False, width=None if sys.stderr.isatty() else 100_000)

JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON document (stable field names) instead")]


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

    def store(self, *, create: bool = True, exclusive: bool = False) -> Store | None:
        """The database. For a command that only reads, None when it does not exist yet (it is not created);
        `exclusive` (run, web): refused if another such process holds this SQLite file."""
        database = self.config.settings.database
        if not create and not database_exists(database.url):
            return None
        try:
            if exclusive and (lock := hold_process_lock(database.url)) is not None:
                self.on_close(lock.release)  # held while the command runs (a process runs one command)
            return Store(open_database(database.url, echo=database.echo))
        except DatabaseUnavailable as exc:
            raise _fail(exc) from None

    def runtime(self, *, exclusive: bool = False, **kwargs: Any) -> Runtime:
        store = self.store(exclusive=exclusive)
        assert store is not None
        return Runtime.build(self.config, store=store, **kwargs)


def _fail(exc: AnnounceBotError, code: int = 2) -> typer.Exit:
    errors.print(Text(f"error: {exc}", style="red"))
    return typer.Exit(code)


def _state(ctx: typer.Context) -> State:
    state: State = ctx.obj
    return state


def _json(data: object) -> None:
    console.out(json.dumps(data, ensure_ascii=False, indent=2, default=str), highlight=False)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="the config folder")] = Path("config"),
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "WARNING",
) -> None:
    ctx.obj = State(config_dir=config, log_level=log_level.upper(), on_close=ctx.call_on_close)


def _local(moment: datetime, event: Event) -> str:
    local = moment.astimezone(event.zone)
    return f"{local:%Y-%m-%d %H:%M} {zone_label(local)}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _title(event: Event) -> str:
    return pick(event.title, event.lang, event.lang)


# -- validate -------------------------------------------------------------------------------------------


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check settings, campaign, templates, every event file and every post against the platforms' limits."""
    state = _state(ctx)
    config = state.config
    renderer = Renderer(config.templates_dir)
    problems: list[str] = template_problems(config)
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
    warnings = _warnings(config, renderer, list(files.events.values()))
    store = state.store(create=False)
    taken = {id_ for id_, (origin, _, _) in store.sources().items() if origin is EventOrigin.DASHBOARD} \
        if store is not None else set()
    for event_id in sorted(taken & set(files.events)):
        errors.print(Text(f"! {files.sources[event_id]}: ignored, the event {event_id!r} was taken over in the "
                          "dashboard (edit it there, or export it back to a file)", style="yellow"))
    for warning in warnings:
        errors.print(Text(f"! {files.sources[warning.event_id]}: {warning.field}: {warning.message}", style="yellow"))
    if not config.settings.web.public_url:
        for name, target in config.settings.targets_of(Platform.DZEN).items():
            if target.route == "rss":
                errors.print(Text(f"! targets.{name}: Dzen needs [web] public_url: without it an item of an event "
                                  "without a cover has no image (Dzen fetches the generated card from this app's "
                                  "public address)", style="yellow"))
    if problems:
        for problem in dict.fromkeys(problems):
            errors.print(Text(f"✗ {problem}", style="red"))
        errors.print(f"{len(problems)} problem(s) found")
        raise typer.Exit(1)
    # What link cards, feeds, calendars and the chat bot say of each event, in each language it is published in.
    langs = dict.fromkeys(t.lang for t in config.settings.targets.values() if t.enabled)
    for event_id, event in files.events.items():
        for lang in langs:
            console.print(Text(f"  {event_id} [{lang}]: {synopsis(event, lang)}"), soft_wrap=True)
    console.print(
        f"✓ config {config.config_dir}: {len(config.settings.targets)} targets, "
        f"{len(config.campaign.steps)} campaign steps, {len(files.events)} events, {checked} posts fit their limits"
        + (f"; {len(warnings)} warning(s) to look at" if warnings else "")
    )


def _warnings(config: AppConfig, renderer: Renderer, events: list[Event]) -> list[EventWarning]:
    """What an organiser should look at before it goes out (warnings: `validate` still succeeds)."""
    langs = {t.lang for t in config.settings.targets.values() if t.enabled}
    found: list[EventWarning] = copied_texts(events)
    now = datetime.now(UTC)
    for event in events:
        found += event_warnings(event, campaign=config.campaign, now=now, langs=langs)
        checked: set[str] = set()  # one post per language says it: the texts are the same in every post
        for step in config.campaign.steps:
            for target in step_targets(config, step):
                lang = config.settings.targets[target].lang
                if lang in checked:
                    continue
                try:
                    mixed = mixed_language(render_post(config, renderer, event, step.kind, target, step), event)
                except (ConfigError, FitError):
                    continue  # reported as a problem already
                checked.add(lang)
                found += mixed
    return list(dict.fromkeys(found))


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
    config = state.config
    files = load_events(config.events_dir)
    store = state.store(create=False)
    lines: dict[str, EventLine] = {}
    if store is not None:
        posts = store.posts()
        for stored in store.records():
            mine = [p for p in posts if p.event_id == stored.id]
            lines[stored.id] = EventLine(
                event=stored.event, state="withdrawn" if stored.withdrawn else stored.event.status.value,
                origin=stored.origin.value, source=stored.source, sent=sum(p.state is PostState.SENT for p in mine),
                planned=len(mine))
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
    lines = _event_lines(_state(ctx))
    if as_json:
        _json({"events": [{"id": line.event.id, "title": _title(line.event), "start": line.event.start.isoformat(),
                           "end": line.event.end.isoformat(), "timezone": line.event.timezone, "state": line.state,
                           "origin": line.origin, "source": line.source, "posts_sent": line.sent,
                           "posts_planned": line.planned} for line in lines]})
        return
    table = Table("id", "title", "starts (local)", "state", "from", "posts sent/planned")
    for line in lines:
        table.add_row(line.event.id, _title(line.event), _local(line.event.start, line.event), line.state,
                      line.origin, f"{line.sent}/{line.planned}")
    console.print(table)


def _event(state: State, event_id: str) -> tuple[Event, Store | None]:
    """The event as it stands (its file if it has one, else the stored version) and the store, if there is one."""
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
    state = _state(ctx)
    event, store = _event(state, event_id)
    stored = store.posts(event.id) if store is not None else []
    items: list[PlannedPost | PlanItem] = list(stored) or list(plan(event, state.config.campaign,
                                                                    targets(state.config)))
    rows = []
    config = state.config
    renderer = Renderer(config.templates_dir)
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
            detail, post_state, post_id = "not imported yet: `announce-bot run` plans it", "planned", None
        rows.append({"id": post_id, "step": item.step_id, "kind": item.kind.value, "target": item.target,
                     "platform": item.platform.value, "lang": item.lang, "due": item.due_at.isoformat(),
                     "due_local": _local(item.due_at, event), "state": post_state, "details": detail,
                     "price_usd": str(cost.total) if cost else None})
    if as_json:
        _json({"event": event.id, "posts": rows, "price_usd": str(total)})
        return
    table = Table("#", "local time", "UTC", "step", "kind", "target", "platform", "lang", "price", "state",
                  title=event.id)
    for row, item in zip(rows, items, strict=True):
        table.add_row(*(str(row[key] or "") for key in ("id", "due_local")), _utc(item.due_at),
                      *(str(row[key]) for key in ("step", "kind", "target", "platform", "lang")),
                      f"${row['price_usd']}" if row["price_usd"] else "", str(row["details"]))
    console.print(table)
    if total:
        console.print(f"X: ${total} for this event's posts on X (a post with a link costs more; "
                      "`link_placement` on the X target chooses where links go)")


@app.command()
def preview(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT", help="the event's id")],
    kind: Annotated[list[PostKind] | None, typer.Option("--kind", "-k", help="only this kind of post (repeatable)")]
    = None,
    platform: Annotated[list[Platform] | None, typer.Option("--platform", "-p", help="only this platform")] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", "-l", help="only targets in this language (en, ru)")]
    = None,
    as_json: JsonOption = False,
) -> None:
    """Print the rendered posts of an event, with their length against each platform's limit."""
    state = _state(ctx)
    config = state.config
    event, _ = _event(state, event_id)
    renderer = Renderer(config.templates_dir)
    steps: list[tuple[str, PostKind, Step | None]] = [
        (step.id, step.kind, step) for step in config.campaign.steps if not kind or step.kind in kind
    ]
    # A kind the campaign does not plan (a change notice) is previewed on all the campaign's platforms.
    steps += [(k.value, k, None) for k in kind or () if all(s.kind is not k for s in config.campaign.steps)]
    failed = False
    shown: list[tuple[str, RenderedPost]] = []
    for label, post_kind, step in steps:
        names = step_targets(config, step) if step else targets_for(config, post_kind)
        for name in names:
            target = config.settings.targets[name]
            if (platform and target.platform not in platform) or (lang and target.lang not in lang):
                continue
            try:
                shown.append((label, render_post(config, renderer, event, post_kind, name, step)))
            except (ConfigError, FitError) as exc:
                errors.print(Text(f"✗ {label} for {name}: {exc}", style="red"))
                failed = True
    if not shown and not failed:
        langs = sorted({t.lang for t in config.settings.targets.values()})
        errors.print(f"no post matches: the campaign's targets are in {', '.join(langs)} on "
                     f"{', '.join(sorted({t.platform.value for t in config.settings.targets.values()}))}")
        raise typer.Exit(1)
    costs = [post_price(config, post) for _, post in shown]
    total = sum((c.total for c in costs if c is not None), Decimal(0))
    if as_json:
        _json({"event": event.id, "posts": [_post_json(label, post, cost) for (label, post), cost
                                            in zip(shown, costs, strict=True)], "price_usd": str(total)})
    else:
        for (label, post), cost in zip(shown, costs, strict=True):
            _print_post(post, label, cost)
        if any(costs):
            console.print(f"X: ${total} for these posts (X bills each post; a post with a link costs more)")
    if failed:
        raise typer.Exit(1)


def _limit(post: RenderedPost, index: int) -> int:
    spec = SPECS[post.platform]
    return spec.caption_length if post.image and index == 1 and spec.caption_length else spec.max_length


def _post_json(label: str, post: RenderedPost, cost: PostPrice | None = None) -> dict[str, object]:
    return {"step": label, "kind": post.kind.value, "target": post.target, "platform": post.platform.value,
            "lang": post.lang, "split": post.fitted, "link": post.link, "image": post.image,
            "price_usd": str(cost.total) if cost else None,
            "parts": [{"text": part.text, "length": part.length, "limit": _limit(post, index)}
                      for index, part in enumerate(post.parts, 1)]}


def _print_post(post: RenderedPost, label: str, cost: PostPrice | None = None) -> None:
    spec = SPECS[post.platform]
    for index, part in enumerate(post.parts, 1):
        title = f"{label} → {post.target} ({spec.label}, {post.lang})"
        if len(post.parts) > 1:
            title += f"  part {index}/{len(post.parts)}"
        subtitle = f"{part.length}/{_limit(post, index)}" + ("  · split to fit" if post.fitted else "")
        if cost is not None:
            subtitle += f"  · ${cost.parts[index - 1]}" + (f" (post ${cost.total})" if len(post.parts) > 1 else "")
        console.print(Panel(Text(part.text), title=title, subtitle=subtitle, title_align="left", expand=False))


@app.command()
def status(ctx: typer.Context,
           event_id: Annotated[str | None, typer.Argument(metavar="[EVENT]", help="only this event")] = None,
           as_json: JsonOption = False) -> None:
    """Every planned post and its state: sent with link, retrying with the next attempt, failed or skipped with why."""
    state = _state(ctx)
    store = state.store(create=False)
    if event_id is not None:
        _event(state, event_id)
    posts = store.posts(event_id) if store is not None else []
    progress = ReminderQueue(store.sessions).progress(event_id) if store is not None else []
    if as_json:
        _json({"posts": [_planned_json(post) for post in posts],
               "reminders": [{"event": p.event_id, "step": p.step_id, "total": p.total, "sent": p.sent,
                              "waiting": p.waiting, "failed": p.failed, "blocked": p.blocked, "skipped": p.skipped,
                              "unknown": p.unknown} for p in progress]})
        return
    if not posts:
        console.print("no posts are planned yet: `announce-bot run` imports the event files and plans them")
    else:
        _print_status(store, posts)
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
            "approved_at": post.approved_at.isoformat() if post.approved_at else None}


_STYLES = {PostState.SENT: "green", PostState.FAILED: "red", PostState.UNKNOWN: "red", PostState.RETRYING: "yellow",
           PostState.SKIPPED: "dim", PostState.CANCELLED: "dim"}


def _print_status(store: Store | None, posts: Sequence[PlannedPost]) -> None:
    events = {event.id: event for event in (s.event for s in store.records())} if store is not None else {}
    table = Table("#", "due (local)", "event", "step", "target", "state", "details")
    for post in posts:
        event = events.get(post.event_id)
        details = post.link or "" if post.state in (PostState.SENT, PostState.PLANNED) else describe(post)
        if post.approval is Approval.PENDING:
            details = ("needs approval; " + details).strip("; ")
        elif post.approval is Approval.APPROVED and post.state is not PostState.SENT:
            details = f"approved by {post.approved_by}; {details}".strip("; ")
        due = _local(post.due_at, event) if event else _utc(post.due_at)
        table.add_row(str(post.id), due, post.event_id, post.step_id, post.target,
                      Text(post.state.value, style=_STYLES.get(post.state, "")), details)
    console.print(table)


# -- acting: post, retry, skip, run, web ------------------------------------------------------------------


def _print_results(results: Sequence[ActionResult]) -> None:
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
    state = _state(ctx)
    if dry_run:
        config = state.config
        event, _ = _event(state, event_id)
        renderer = Renderer(config.templates_dir)
        names = [n for n in targets_for(config, kind, platform) if not target or n in target]
        for name in names:
            _print_post(render_post(config, renderer, event, kind, name), kind.value)
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
    _print_results(results)
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
    runtime = _state(ctx).runtime()

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
    state = _state(ctx)
    reporter = ConsoleReporter()
    if demo:
        runtime, outbox = rehearsal_runtime(state.config, observer=reporter.outcome)
        console.print(f"rehearsal: posts go to {outbox}/, nothing is published")
        service = Service(runtime, reporter, web=False, chat=False, watch_files=False)
        asyncio.run(service.serve(until_done=True))
        _print_status(runtime.store, runtime.store.posts())
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
        _print_status(runtime.store, runtime.store.posts())


@app.command("web")
def web_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="address to listen on (default: web.host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: web.port; 0 picks a free one)")] = None,
) -> None:
    """Serve the web app alone: the dashboard, public event pages and feeds (`run` serves it beside the scheduler)."""
    from bot.web import create_app
    from bot.web.server import WebServer

    state = _state(ctx)
    runtime = state.runtime(exclusive=True)
    settings = runtime.config.settings.web

    async def go() -> None:
        for line in summary(await runtime.operations.sync_files()):
            console.print(line)
        server = WebServer(create_app(runtime.live, runtime.store, runtime.operations),
                           host or settings.host, settings.port if port is None else port)
        await server.start()
        console.print(f"web app: {server.url}/events (public), {server.url}/admin (dashboard), {server.url}/healthz")
        for line in web_notes(runtime.config):
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


def _links(given: list[str]) -> dict[str, str]:
    links = {}
    for item in given:
        name, sep, url = item.partition("=")
        if not sep:  # a bare URL: the platform it is on, else the website
            name, url = platform_of_link(item), item
        links[name.strip().lower()] = url.strip()
    return links


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
    runtime = _state(ctx).runtime()

    async def go() -> GoLiveResult:
        try:
            await runtime.operations.sync_files()
            return await runtime.operations.go_live(event_id, _links(link), actor="cli")
        finally:
            await runtime.aclose()

    result = asyncio.run(go())
    (console if result.ok else errors).print(result.message)
    if result.posts:
        _print_results(result.posts)
    if result.reminders:
        console.print(f"{result.reminders} subscriber(s) queued for the live reminder")
    if not result.ok:
        raise typer.Exit(1)


events_app = typer.Typer(help="Events: draft a new event file, export any event as YAML.", no_args_is_help=True)
app.add_typer(events_app, name="event")


@events_app.command("new")
def event_new(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="ID", help="the new event's id (lowercase, digits, hyphens)")],
    source: Annotated[str | None, typer.Option("--from", help="copy the structure of this event")] = None,
    start: Annotated[datetime | None, typer.Option(help="the start, in the event's time zone (YYYY-MM-DD HH:MM)",
                                                   formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"])] = None,
) -> None:
    """Write config/events/ID.yaml: a draft (nothing goes out until its status is scheduled), every field to
    write or to check marked."""
    state = _state(ctx)
    config = state.config
    path = config.events_dir / f"{event_id}.yaml"
    if path.exists():
        errors.print(f"{path} exists already")
        raise typer.Exit(1)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", event_id):
        errors.print(f"{event_id!r} is not an event id: lowercase letters, digits and hyphens, at most 80")
        raise typer.Exit(2)
    base, _ = _event(state, source) if source else (_blank(), None)
    when = (start.replace(tzinfo=base.zone) if start else
            datetime.now(base.zone).replace(hour=base.start.astimezone(base.zone).hour,
                                            minute=base.start.astimezone(base.zone).minute, second=0, microsecond=0)
            + timedelta(days=28))
    draft = base.model_copy(update={"status": EventStatus.DRAFT})
    text = draft_from(draft, event_id, when, when + (base.end - base.start))
    if source is None:
        text = text.replace(f"Drafted from {base.id}", "A new event").replace(f"copied from {base.id}", "write it")
    config.events_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}: a draft; edit the fields marked CHECK, then set `status: scheduled`")


def _blank() -> Event:
    now = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    return Event.model_validate({
        "id": "new-event", "title": "The event's title", "organiser": "The organisation", "topic": "its topic",
        "start": now, "end": now + timedelta(hours=2), "timezone": "UTC",
        "venue": {"name": "The venue", "address": "Its address"}})


@events_app.command("export")
def event_export(ctx: typer.Context,
                 event_id: Annotated[str, typer.Argument(metavar="ID", help="the event's id")]) -> None:
    """Print any event (from its file or the dashboard) as an event file: `> config/events/ID.yaml` saves it."""
    event, _ = _event(_state(ctx), event_id)
    console.out(event_yaml(event), highlight=False, end="")


db = typer.Typer(help="The database: migrations.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(users, name="user")


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


def main() -> None:
    app()
