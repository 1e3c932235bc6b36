"""The one way the bot's state changes: the CLI, the Telegram admin commands, the dashboard and the file importer
all call these operations, and get typed results back (never ORM rows, never a session)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.accounts import Role
from bot.alerts import Alerts
from bot.clock import Clock, utc_text
from bot.config import AppConfig
from bot.config.live import LiveConfig, restart_needed
from bot.delivery import Outcome, step_of, targets_for
from bot.domain import (
    COMMANDS,
    STORED,
    Approval,
    CatchUp,
    Command,
    Delivery,
    Event,
    EventOrigin,
    EventStatus,
    PlannedPost,
    Platform,
    PostKind,
    PostState,
    RenderedPost,
    StoredEvent,
)
from bot.errors import ConfigError, FitError
from bot.importing import FileSource, ImportReport, import_events
from bot.planning import still_useful
from bot.preparation import Prepared, Saved, prepare
from bot.queries import Queries
from bot.reach import Reach
from bot.recording import Recordings
from bot.rendering.renderer import Renderer
from bot.scheduling import Dispatcher
from bot.storage import Claims, Store, SyncResult
from bot.storage.accounts import Accounts, UserRecord
from bot.storage.chat import ChatStore
from bot.storage.reminders import ReminderQueue
from bot.streams import link_problems
from bot.subscribers import Subscribers

log = logging.getLogger(__name__)



class Result(StrEnum):
    """How an organiser's request ended."""

    SENT = "sent"
    RETRYING = "retrying"  # it failed for now and will be tried again (see `next_attempt`)
    FAILED = "failed"
    UNKNOWN = "unknown"  # the request may or may not have been published: check, then retry or skip
    SKIPPED = "skipped"
    DONE = "done"  # a retry or skip was recorded
    REFUSED = "refused"  # nothing was done: `message` says why (already sent, waiting, being sent...)
    NOT_FOUND = "not found"


@dataclass(frozen=True, kw_only=True)
class ActionResult:
    """What came of one request about one post (or one target of a `publish`)."""

    result: Result
    message: str
    target: str | None = None
    post: PlannedPost | None = None  # the post as it is now
    outcome: Outcome | None = None  # for a send: the rendered post, the receipt or the error

    @property
    def ok(self) -> bool:
        return self.result in (Result.SENT, Result.DONE, Result.SKIPPED)


@dataclass(frozen=True, kw_only=True)
class ReloadResult:
    ok: bool
    message: str
    report: ImportReport | None = None
    restart: tuple[str, ...] = ()  # settings that changed but apply only after a restart (RESTART_ONLY)


def when(moment: datetime | None) -> str:
    return utc_text(moment) if moment else "?"


def describe(post: PlannedPost) -> str:
    """One line on where a post stands, for any front end: "sent 2024-11-20 08:00 UTC → https://t.me/…"."""
    line = _where(post)
    if post.render_error and not post.state.settled:  # found when it was planned, not on the day
        line += f"; will not go out as planned: {post.render_error}"
    return line


def _where(post: PlannedPost) -> str:
    state = post.state
    if state is PostState.SENT:
        return f"sent {when(post.updated_at)} → {post.link or post.post_id or 'no link'}"
    if state is PostState.RETRYING:
        return f"retrying at {when(post.next_attempt_at)} (attempt {post.attempts + 1}): {post.reason or ''}".strip()
    if state in (PostState.PLANNED, PostState.WAITING):
        return f"{state.value} for {when(post.due_at)}" + (f": {post.reason}" if post.reason else "")
    return state.value + (f": {post.reason}" if post.reason else "")


def _result_of(state: PostState | None) -> Result:
    return {
        PostState.SENT: Result.SENT, PostState.RETRYING: Result.RETRYING, PostState.FAILED: Result.FAILED,
        PostState.UNKNOWN: Result.UNKNOWN, PostState.SKIPPED: Result.SKIPPED,
    }.get(state or PostState.FAILED, Result.REFUSED)


async def _done(result: ActionResult) -> ActionResult:
    return result


def template_problems(config: AppConfig) -> list[str]:
    """Templates that do not compile: a configuration with any is not swapped in."""
    renderer = Renderer(config.templates_dir)
    problems = []
    for name in renderer.all_template_names():
        try:
            renderer.compile(name)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


class Operations:
    """Publish, retry, skip, reload and sync, the same wherever they are asked for.

    `dispatcher` is the process's one sender: the running scheduler's in `run`, a local one in a short
    command; either way every post goes through its claim, per-target lock, lease check, rate limit, retry
    policy and record.
    """

    def __init__(self, live: LiveConfig, store: Store, dispatcher: Dispatcher, alerts: Alerts, *,
                 clock: Clock | None = None, schedules: bool = False) -> None:
        self.live = live
        self.store = store
        self.claims: Claims = dispatcher.claims
        self.dispatcher = dispatcher
        self.alerts = alerts
        self.clock = clock or dispatcher.clock
        self.schedules = schedules  # a scheduler runs in this process: a retried post goes out at once
        self._reported: set[str] = set()  # import problems already told to the organiser
        self._files = FileSource()  # an unchanged event file is neither parsed nor synced again
        self._importing = asyncio.Lock()  # one import at a time, whoever asks (timer, /reload, SIGHUP)
        self.editing = EventOperations(self)  # creating and changing events outside their files
        self.go_live = GoLive(self)
        # What the front ends read and keep through, so that none of them holds the store or its sessions.
        self.queries = Queries(store)  # the pages' reads, off the event loop
        self.accounts = Accounts(store.sessions)  # the dashboard's sign-in
        self.reminders = ReminderQueue(store.sessions)  # personal reminders, sent by each chat bot's broadcaster
        self.subscribers = Subscribers(ChatStore(store.sessions))  # the chat bots' people
        self.recording = Recordings(self)  # after the event: its recording links, and the summary that carries them
        self.reach = Reach(self)  # what the posts reached: readings, reactions, the bot's own counts

    @property
    def config(self) -> AppConfig:
        return self.live.current

    @property
    def renderer(self) -> Renderer:
        return self.dispatcher.publisher.renderer

    # -- configuration and event files ------------------------------------------------------------

    async def reload(self, actor: str | None = None) -> ReloadResult:
        """Read settings, campaign and templates again and swap them in for every service at once, then sync
        the event files with the new configuration; a bad configuration is refused and the running one stays."""
        old = self.live.current
        try:
            new = await asyncio.to_thread(self.live.reload)
        except ConfigError as exc:
            log.warning("reload refused%s: %s", f" (asked by {actor})" if actor else "", exc)
            return ReloadResult(ok=False, message=f"reload refused, the running configuration stays: {exc}")
        restart = tuple(restart_needed(old.settings, new.settings))
        if restart:
            log.warning("reloaded, but these settings are read at start only; restart to apply: %s", ", ".join(restart))
        report = await self.sync_files()
        changed = sum(r.outcome not in ("unchanged", "ignored") for r in report.results)
        return ReloadResult(ok=True, report=report, restart=restart, message=(
            f"configuration reloaded: {len(report.results)} events, {changed} changed, "
            f"{len(report.errors)} file problem(s), {len(report.withdrawn)} withdrawn"
            + (f"; restart to apply: {', '.join(restart)}" if restart else "")))

    def tell_subscribers(self, results: Iterable[SyncResult]) -> None:
        """People subscribed to a changed event get the change notice by direct message too (once per change)."""
        if not self.config.settings.chat.enabled:
            return
        queue = self.reminders
        now = self.clock()
        for result in results:
            if result.notice is not None:
                queue.enqueue(result.event_id, result.notice, PostKind.CHANGED.value, now, now)

    async def sync_files(self) -> ImportReport:
        """Import the event files now; tell the organiser once about each new problem and each withdrawal."""
        async with self._importing:
            report = await asyncio.to_thread(import_events, self.config, self.store, self.clock(), self._files,
                                             self.renderer)
            await asyncio.to_thread(self.tell_subscribers, report.results)
        current = {f"event file not imported: {error}" for error in report.errors}
        current |= {f"event {event_id}: {line}" for event_id, line in report.warnings
                    if line.startswith("will not go out")}
        for problem in sorted(current - self._reported):
            await self.alerts(problem)
        self._reported = current
        for event_id, note in report.notes:  # a step already past when first planned: sent now, or skipped
            await self.alerts(f"event {event_id}: {note}")
        for gone in report.withdrawn:
            await self.alerts(f"event {gone.event_id} withdrawn: {gone.reason}; {gone.cancelled} unsent post(s) "
                              "cancelled. Restore the file to restore it.")
        if report.changed and self.schedules:
            await self.dispatcher.dispatch()
        return report

    # -- reading ----------------------------------------------------------------------------------

    def event(self, event_id: str) -> StoredEvent | None:
        return self.store.record(event_id)

    def posts(self, event_id: str | None = None) -> list[PlannedPost]:
        return self.store.posts(event_id)

    def post(self, post_id: int) -> PlannedPost | None:
        return self.store.post(post_id)

    def deliveries(self, event_id: str | None = None, limit: int = 100) -> list[Delivery]:
        return self.store.deliveries(event_id, limit=limit)

    # -- one post -------------------------------------------------------------------------------------

    async def publish_post(self, post_id: int, *, actor: str | None = None) -> ActionResult:
        """Send one planned post now (the dashboard's "publish now"), whatever its due time."""
        post = await asyncio.to_thread(self.store.post, post_id)
        if post is None:
            return ActionResult(result=Result.NOT_FOUND, message=f"no planned post #{post_id}")
        if not post.allows(Command.PUBLISH):
            return ActionResult(result=Result.REFUSED, post=post, target=post.target,
                                message=self._refusal(post, Command.PUBLISH))
        if post.approval is Approval.PENDING:
            return ActionResult(result=Result.REFUSED, post=post, target=post.target,
                                message=self._refusal(post, Command.PUBLISH))
        return await self._send(post, actor)

    async def retry(self, post_id: int, *, actor: str | None = None) -> ActionResult:
        """Send a failed, unknown or skipped post again (a retrying one at once)."""
        before, after = await asyncio.to_thread(self.claims.command, post_id, Command.RETRY, self.clock(), actor)
        if before is None or after is None:
            return ActionResult(result=Result.NOT_FOUND, message=f"no planned post #{post_id}")
        if after.state is before.state:
            return ActionResult(result=Result.REFUSED, post=before, target=before.target,
                                message=self._refusal(before, Command.RETRY))
        if self.schedules:
            await self.dispatcher.dispatch()
            return ActionResult(result=Result.DONE, post=after, target=after.target,
                                message=f"{after.label} is being sent again now")
        return ActionResult(result=Result.DONE, post=after, target=after.target,
                            message=f"{after.label} is planned again: the running bot (`announce-bot run`) sends it "
                                    "at its next sweep")

    async def approve(self, post_id: int, *, actor: str) -> ActionResult:
        """An approver signs a post off for the event as it is now; one that was already due goes out now."""
        before, after = await asyncio.to_thread(self.claims.approve, post_id, actor, self.clock())
        if before is None or after is None:
            return ActionResult(result=Result.NOT_FOUND, message=f"no planned post #{post_id}")
        if after.approval is not Approval.APPROVED or before.approval is Approval.APPROVED:
            why = ("it needs no approval" if before.approval is Approval.NONE else
                   f"it was approved already by {before.approved_by}" if before.approval is Approval.APPROVED
                   else f"it is {describe(before)}")
            return ActionResult(result=Result.REFUSED, post=before, target=before.target,
                                message=f"{before.label} was not approved: {why}")
        log.info("%s approved by %s", after.label, actor)
        if self.schedules:
            await self.dispatcher.dispatch()
        due = before.state is PostState.AWAITING_APPROVAL
        going = "it goes out now" if due else f"it goes out {when(after.due_at)}"
        return ActionResult(result=Result.DONE, post=after, target=after.target,
                            message=f"{after.label} approved by {actor}: {going}")

    def approval_requests(self) -> list[tuple[PlannedPost, RenderedPost | None]]:
        """Posts whose approvers should be asked now (due within `[admin] approval_ahead` hours, not asked since
        the event last changed), each rendered as it would go out."""
        config = self.config
        ahead = timedelta(hours=config.settings.admin.approval_ahead)
        found = []
        now = self.clock()
        for post in self.claims.approvals_to_ask(now + ahead):
            stored = self.store.record(post.event_id)
            if stored is None or post.target not in config.settings.targets:
                continue
            if still_useful(post.catch_up, stored.event.start, stored.event.end, now):
                continue  # its window has closed: nobody is asked to approve what cannot go out (it is skipped)
            try:
                rendered = self.dispatcher.publisher.render_cached(stored, post.kind, post.target,
                                                                   step_of(config, post.step_id))
            except (ConfigError, FitError):
                rendered = None
            found.append((post, rendered))
        return found

    def approver_chats(self, messenger: Platform = Platform.TELEGRAM) -> frozenset[int]:
        """Who is asked in Telegram and whose buttons count: `[admin] approver_ids` (else the admins), and every
        dashboard user with the approver role or above who signed in with Telegram (`announce-bot user`); on MAX,
        `[admin] max_approver_ids` (else `max_user_ids`)."""
        if messenger is Platform.MAX:
            return frozenset(self.config.settings.admin.max_approvers)
        users = self.dashboard_users()
        linked = {r.user.telegram_id for r in users if r.user.telegram_id is not None and r.user.can(Role.APPROVER)}
        return frozenset(self.config.settings.admin.approvers) | frozenset(linked)

    def dashboard_users(self) -> list[UserRecord]:
        """Who can sign in to the dashboard, and how (`announce-bot user list`)."""
        return self.accounts.users(self.clock())

    def mark_asked(self, post_ids: Sequence[int]) -> None:
        self.claims.mark_asked(post_ids, self.clock())

    async def skip(self, post_id: int, *, actor: str | None = None, reason: str | None = None) -> ActionResult:
        """Decide that a post which has not gone out will not go out."""
        why = reason or "skipped by the organiser" + (f" ({actor})" if actor else "")
        before, after = await asyncio.to_thread(self.claims.command, post_id, Command.SKIP, self.clock(), actor, why)
        if before is None or after is None:
            return ActionResult(result=Result.NOT_FOUND, message=f"no planned post #{post_id}")
        if after.state is before.state:
            return ActionResult(result=Result.REFUSED, post=before, target=before.target,
                                message=self._refusal(before, Command.SKIP))
        return ActionResult(result=Result.SKIPPED, post=after, target=after.target,
                            message=f"{after.label} skipped: it will not be sent")

    def _refusal(self, post: PlannedPost, command: Command) -> str:
        allowed = ", ".join(sorted(state.value for state in COMMANDS[command]))
        if post.state is PostState.SENT:
            return f"{post.label} was already {describe(post)}"
        if post.state is PostState.UNKNOWN and command is Command.PUBLISH:
            return (f"{post.label} may already be published ({post.reason or 'outcome unknown'}); check the "
                    f"{post.platform.value} account, then `announce-bot retry {post.id}` sends it again")
        if post.state is PostState.CLAIMED:
            return f"{post.label} is being sent right now"
        if post.approval is Approval.PENDING and command is not Command.APPROVE:
            return (f"{post.label} waits for an approver's sign-off: approve it first (`announce-bot approve "
                    f"{post.id}`, the dashboard, or the Telegram request)")
        if post.state is PostState.WAITING:
            return f"{post.label} cannot go out yet: {post.reason or 'it is waiting'}"
        return f"{post.label} is {describe(post)}: {command.value} applies to {allowed} posts"

    async def _send(self, post: PlannedPost, actor: str | None, wait: float = 0.0) -> ActionResult:
        """Claim and send through the dispatcher; with `wait`, stay for retries due within that many seconds."""
        if post.state in (PostState.FAILED, PostState.SKIPPED):
            _, post_now = await asyncio.to_thread(self.claims.command, post.id, Command.PUBLISH, self.clock(), actor)
            post = post_now or post
        outcome = await self.dispatcher.publish_now(post.id, actor=actor)
        budget = self.clock().timestamp() + wait
        while outcome is not None and outcome.state is PostState.RETRYING:
            current = await asyncio.to_thread(self.store.post, post.id)
            if current is None or current.next_attempt_at is None or current.next_attempt_at.timestamp() > budget:
                break
            await asyncio.sleep(max(0.0, (current.next_attempt_at - self.clock()).total_seconds()))
            outcome = await self.dispatcher.publish_now(post.id, actor=actor) or outcome
        now = await asyncio.to_thread(self.store.post, post.id) or post
        if outcome is None:
            return ActionResult(result=Result.REFUSED, post=now, target=now.target,
                                message=self._refusal(now, Command.PUBLISH))
        if outcome.error is not None and outcome.state is None:  # the claim was lost: someone else sends it
            return ActionResult(result=Result.REFUSED, post=now, target=now.target, outcome=outcome,
                                message=f"{now.label} was taken over by another sender: {outcome.error}")
        result = _result_of(outcome.state)
        message = describe(now) if result is not Result.FAILED else f"failed: {now.reason or outcome.error}"
        return ActionResult(result=result, post=now, target=now.target, outcome=outcome,
                            message=f"{now.label}: {message}")

    # -- one kind of post for an event -----------------------------------------------------------------

    async def publish(
        self, event_id: str, kind: PostKind, *, platforms: Iterable[Platform] | None = None,
        targets: Sequence[str] | None = None, again: bool = False, actor: str | None = None, wait: float = 0.0,
    ) -> list[ActionResult]:
        """Publish one kind of post of an event now on every target the campaign sends it to (or those named).

        This is part of the campaign: the matching planned post is claimed and sent like any other, so the
        scheduler never sends it again. A post already sent is refused with where and when it went, unless
        `again` (an extra copy, recorded as a manual post). A kind the campaign does not plan for a target (a
        change notice) becomes a manual post in the same log; sending it a second time also needs `again`.
        """
        stored = await asyncio.to_thread(self.store.record, event_id)
        if stored is None:
            return [ActionResult(result=Result.NOT_FOUND, message=f"no event {event_id!r}")]
        names = targets_for(self.config, kind, platforms)
        if targets:
            unknown = [t for t in targets if t not in self.config.settings.targets]
            if unknown:
                return [ActionResult(result=Result.NOT_FOUND, message=f"no target {', '.join(unknown)} in settings")]
            names = [name for name in names if name in targets]
        if not names:
            where = f" on {', '.join(p.value for p in platforms)}" if platforms else ""
            return [ActionResult(result=Result.REFUSED, message=f"no target publishes {kind.value} posts{where}")]
        posts = await asyncio.to_thread(self.store.posts, event_id)
        chosen: list[tuple[str, PlannedPost | ActionResult]] = []
        for name in names:
            chosen.append((name, await self._choose(stored, kind, name, posts, again, actor)))
        results = await asyncio.gather(*(
            self._send(pick, actor, wait) if isinstance(pick, PlannedPost) else _done(pick) for _, pick in chosen
        ))
        return [replace(result, target=result.target or name)
                for (name, _), result in zip(chosen, results, strict=True)]

    async def _choose(self, stored: StoredEvent, kind: PostKind, target: str, posts: list[PlannedPost], again: bool,
                      actor: str | None) -> PlannedPost | ActionResult:
        """The planned post `publish` sends on `target`, or why it sends none."""
        mine = sorted((p for p in posts if p.target == target and p.kind is kind and p.edits is None),
                      key=lambda p: (p.due_at, p.id))
        campaign = [p for p in mine if not p.manual]
        if again or not campaign:
            sent = [p for p in mine if p.state is PostState.SENT]
            if not again and sent:
                return self._already(sent[-1])
            if not stored.active and kind is not PostKind.CHANGED:
                state = "withdrawn" if stored.withdrawn else stored.event.status.value
                return ActionResult(result=Result.REFUSED, target=target, message=f"the event is {state}")
            settings = self.config.settings.targets[target]
            # An extra copy keeps its kind's window: a reminder is not sent once the event has started.
            window = next((s.catch_up for s in self.config.campaign.steps if s.kind is kind), CatchUp.ALWAYS) \
                if kind is PostKind.REMINDER else CatchUp.ALWAYS
            return await asyncio.to_thread(self.store.add_manual_post, stored.id, kind, target, settings.platform,
                                           settings.lang, self.clock(), actor, window)
        unsent = [p for p in campaign if p.state is not PostState.SENT]
        # The next one due (a reminder of two, say), else one that failed or was skipped, else why none can go.
        ready = [p for p in unsent if p.state in (PostState.PLANNED, PostState.RETRYING)] or \
            [p for p in reversed(unsent) if p.allows(Command.PUBLISH)]
        if ready:
            return ready[0]
        if unsent:
            return ActionResult(result=Result.REFUSED, target=target, post=unsent[0],
                                message=self._refusal(unsent[0], Command.PUBLISH))
        return self._already(campaign[-1])

    @staticmethod
    def _already(post: PlannedPost) -> ActionResult:
        return ActionResult(result=Result.REFUSED, target=post.target, post=post,
                            message=f"{post.label} was already {describe(post)}; --again sends another copy")


@dataclass(frozen=True, kw_only=True)
class EventResult:
    """What came of a change to an event: the event as stored now, and what it did to its planned posts."""

    ok: bool
    message: str
    event: StoredEvent | None = None
    sync: SyncResult | None = None
    prepared: Prepared | None = None  # the plan as checked: errors by field, warnings, what happens now

    @property
    def problems(self) -> dict[str, list[str]]:
        """Why it was refused, by field of the event (the editor shows each next to its field)."""
        return self.prepared.by_field() if self.prepared is not None and not self.ok else {}


class EventOperations:
    """Events made and changed outside their files (the dashboard, Telegram, the CLI): stored in the database,
    planned like any other, changes announced as the campaign says. An event from a file is read-only here
    until it is taken over; from then on its file is ignored."""

    def __init__(self, operations: Operations) -> None:
        self.ops = operations

    @property
    def _store(self) -> Store:
        return self.ops.store

    def _refusal(self, stored: StoredEvent | None, event_id: str, expected: str | None) -> str | None:
        if stored is not None and stored.origin is EventOrigin.FILE and stored.withdrawn is None:
            return (f"{event_id} comes from its file {stored.source}: edit the file, or take the event over "
                    "(from then on the file is ignored)")
        if expected is not None and (stored is None or stored.version != expected):
            return f"{event_id} was changed meanwhile (by someone else or its file): reload it and try again"
        return None

    async def save(self, event: Event, *, actor: str | None, expected: str | None = None,
                   new: bool = False, action: str = "moved") -> EventResult:
        """Create (`new`) or change an event made in the dashboard, and re-plan its posts. `expected` is the
        version the editor started from: a change made meanwhile is not silently overwritten."""
        stored = await asyncio.to_thread(self._store.record, event.id)
        if new and stored is not None:
            return EventResult(ok=False, event=stored, message=f"an event {event.id!r} exists already")
        if not new and stored is None:
            return EventResult(ok=False, message=f"no event {event.id!r}")
        if not new and (refused := self._refusal(stored, event.id, expected)):
            return EventResult(ok=False, event=stored, message=refused)
        config = self.ops.config
        prepared = await self.check(event, stored)
        if not prepared.ok:
            return EventResult(ok=False, event=stored, prepared=prepared, message=f"{event.id} was not saved: "
                               + "; ".join(str(problem) for problem in prepared.errors))
        result = await asyncio.to_thread(
            self._store.sync_event, event, f"dashboard:{actor or '?'}", list(prepared.items),
            origin=EventOrigin.DASHBOARD, notify_changes=config.campaign.notify_changes, now=self.ops.clock(),
            skip_past=config.settings.delivery.skip_past, planned_with=prepared.planned_with)
        log.info("event %s %s by %s", event.id, result.outcome, actor or "?")
        await asyncio.to_thread(self.ops.tell_subscribers, [result])
        if self.ops.schedules:
            await self.ops.dispatcher.dispatch()
        before = stored.event if stored is not None else None
        return EventResult(ok=True, sync=result, prepared=prepared, event=await asyncio.to_thread(
            self._store.record, event.id), message=_saved(event, before, result, prepared, action))

    async def check(self, event: Event, stored: StoredEvent | None) -> Prepared:
        """`event` prepared as saving it would (every post rendered and checked), off the event loop: what the
        editor shows before saving, and what saving refuses."""
        saved = None
        if stored is not None:
            saved = Saved(start=stored.event.start,
                          status="withdrawn" if stored.withdrawn else stored.event.status.value)
        return await asyncio.to_thread(prepare, event, self.ops.config, self.ops.renderer, self.ops.clock(),
                                       saved=saved)

    async def take_over(self, event_id: str, *, actor: str | None) -> EventResult:
        """Make a file's event editable here: its file is ignored from now on (and `validate` says so)."""
        stored = await asyncio.to_thread(self._store.record, event_id)
        if stored is None:
            return EventResult(ok=False, message=f"no event {event_id!r}")
        if stored.origin is EventOrigin.DASHBOARD:
            return EventResult(ok=True, event=stored, message=f"{event_id} is already edited in the dashboard")
        await asyncio.to_thread(self._store.set_origin, event_id, EventOrigin.DASHBOARD, f"dashboard:{actor or '?'}")
        return EventResult(ok=True, event=await asyncio.to_thread(self._store.record, event_id),
                           message=f"{event_id} is edited in the dashboard from now on; its file {stored.source} "
                                   "is ignored (export it to write a file again)")

    async def _change(self, event_id: str, actor: str | None, expected: str | None, action: str = "moved",
                      **changes: object) -> EventResult:
        stored = await asyncio.to_thread(self._store.record, event_id)
        if stored is None:
            return EventResult(ok=False, message=f"no event {event_id!r}")
        if refused := self._refusal(stored, event_id, expected):
            return EventResult(ok=False, event=stored, message=refused)
        try:
            changed = Event.model_validate({**stored.event.model_dump(), **changes}, context=STORED)
        except ValueError as exc:
            return EventResult(ok=False, event=stored, message=f"{event_id}: {_plain(exc)}")
        return await self.save(changed, actor=actor, expected=stored.version, action=action)

    async def postpone(self, event_id: str, *, actor: str | None, start: datetime | None = None,
                       end: datetime | None = None, expected: str | None = None) -> EventResult:
        """A new date (a "new time" notice goes where the event was announced), or none yet: status postponed."""
        stored = await asyncio.to_thread(self._store.record, event_id)
        if stored is None:
            return EventResult(ok=False, message=f"no event {event_id!r}")
        if start is None:
            return await self._change(event_id, actor, expected, status=EventStatus.POSTPONED)
        length = stored.event.end - stored.event.start
        # The start it had is kept: pages and search engines say the event moved (schema.org previousStartDate).
        previous = stored.event.start if start != stored.event.start else stored.event.previous_start
        return await self._change(event_id, actor, expected, "postponed", status=EventStatus.SCHEDULED,
                                  start=start, end=end or start + length, previous_start=previous)

    async def cancel(self, event_id: str, *, actor: str | None, expected: str | None = None) -> EventResult:
        """The event will not take place: its unsent posts are cancelled and a notice goes where it was announced."""
        return await self._change(event_id, actor, expected, status=EventStatus.CANCELLED)

    async def withdraw(self, event_id: str, *, actor: str | None, reason: str | None = None) -> EventResult:
        """Take the event down without a word: nothing more of it goes out, and it leaves the public pages."""
        stored = await asyncio.to_thread(self._store.record, event_id)
        if stored is None:
            return EventResult(ok=False, message=f"no event {event_id!r}")
        why = reason or f"withdrawn by {actor or 'an organiser'}"
        cancelled = await asyncio.to_thread(self._store.withdraw, event_id, why, self.ops.clock())
        if cancelled is None:
            return EventResult(ok=False, event=stored, message=f"{event_id} is withdrawn already")
        return EventResult(ok=True, event=await asyncio.to_thread(self._store.record, event_id),
                           message=f"{event_id} withdrawn: {cancelled} unsent post(s) cancelled")


@dataclass(frozen=True, kw_only=True)
class GoLiveResult:
    ok: bool
    message: str
    event: StoredEvent | None = None
    posts: tuple[ActionResult, ...] = ()
    reminders: int | None = None  # people queued for the live reminder now (None: not queued by this call)


class GoLive:
    """"We are live": the stream links set, the live posts sent now (or at their time when given earlier), the
    announcement pointed at the stream and pinned (pin_live targets), the public page updated, the subscribers'
    live reminder queued. Each part happens once, however often it is asked for."""

    def __init__(self, operations: Operations) -> None:
        self.ops = operations

    async def __call__(self, event_id: str, links: dict[str, str], *, actor: str | None) -> GoLiveResult:
        ops = self.ops
        stored = await asyncio.to_thread(ops.store.record, event_id)
        if stored is None:
            return GoLiveResult(ok=False, message=f"no event {event_id!r}")
        if not stored.active:
            state = "withdrawn" if stored.withdrawn else stored.event.status.value
            return GoLiveResult(ok=False, event=stored, message=f"{event_id} is {state}: it does not go live")
        if not links and not stored.event.live:
            return GoLiveResult(ok=False, event=stored, message="give at least one stream link (PLATFORM=URL)")
        if problems := link_problems(links, stored.event.live):
            return GoLiveResult(ok=False, event=stored, message="the links were not set: " + "; ".join(problems))
        try:
            stored.event.model_validate({**stored.event.model_dump(), "live": {**stored.event.live, **links}})
        except ValueError as exc:
            return GoLiveResult(ok=False, event=stored, message=f"the links were not set: {_plain(exc)}")
        now = ops.clock()
        updated = await asyncio.to_thread(ops.store.set_live, event_id, links, now)
        assert updated is not None
        prepared = await ops.editing.check(updated.event, updated)
        await asyncio.to_thread(  # the live posts waiting for a link are planned now, rendered with it
            ops.store.sync_event, updated.event, updated.source, list(prepared.items), origin=updated.origin,
            notify_changes=False, now=now, skip_past=False, planned_with=prepared.planned_with)
        log.info("%s goes live (%s) by %s", event_id, ", ".join(f"{k}={v}" for k, v in links.items()), actor or "?")
        posts = [p for p in await asyncio.to_thread(ops.store.posts, event_id) if p.kind is PostKind.LIVE
                 and not p.manual]
        due = min((p.due_at for p in posts), default=now)
        results: list[ActionResult] = []
        if now >= due:
            results = list(await asyncio.gather(*(ops.publish_post(p.id, actor=actor) for p in posts
                                                  if p.state is not PostState.SENT)))
            message = f"{event_id} is live: " + (", ".join(f"{r.target} {r.result.value}" for r in results)
                                                 or "its live posts had gone out already")
        else:
            message = (f"{event_id}: stream links set; the live posts go out at their time, "
                       f"{when(due)}")
        reminders = await asyncio.to_thread(self._remind, updated.event, now) if now >= due else None
        return GoLiveResult(ok=all(r.ok or r.result is Result.REFUSED for r in results), message=message,
                            event=await asyncio.to_thread(ops.store.record, event_id), posts=tuple(results),
                            reminders=reminders)

    def _remind(self, event: Event, now: datetime) -> int | None:
        """Queue the subscribers' live reminder now (once per event and step: a second go-live queues nobody)."""
        chat = self.ops.config.settings.chat
        if not chat.enabled or PostKind.LIVE.value not in chat.reminder_kinds:
            return None
        queue = self.ops.reminders
        queued = None
        for step in self.ops.config.campaign.steps:
            if step.kind is PostKind.LIVE:
                fresh = queue.enqueue(event.id, step.id, step.kind.value, step.due(event), now) is not None
                total = sum(p.total for p in queue.progress(event.id) if p.step_id == step.id)
                queued = (queued or 0) + (total if fresh else 0)
        return queued


def _saved(event: Event, before: Event | None, result: SyncResult, prepared: Prepared, action: str) -> str:
    """What a save did, in the organiser's words: "cancelled: 17 posts withdrawn; the cancellation notice goes out
    now on telegram, vk", "postponed to 10 December 2026, 11:00 (Europe/Moscow): 9 posts moved"."""
    status = event.status
    changed = before is not None and before.status is not status
    notices = f"; the notice goes out now on {', '.join(result.notices)}" if result.notices else ""
    if status is EventStatus.CANCELLED and changed:
        message = f"{event.id} cancelled: {result.stopped} unsent post(s) withdrawn" + (
            notices.replace("the notice", "the cancellation notice") or "; nothing had been announced, so no notice")
    elif status is EventStatus.POSTPONED and changed:
        message = f"{event.id} postponed, no date yet: {result.stopped} unsent post(s) on hold{notices}"
    elif before is not None and before.start != event.start and status is EventStatus.SCHEDULED:
        moment = event.start.strftime("%-d %B %Y, %H:%M")
        message = f"{event.id} {action} to {moment} ({event.timezone}): {result.moved} post(s) moved{notices}"
    else:
        message = (f"{event.id} {result.outcome}: {result.planned} post(s) planned, {result.replanned} re-planned, "
                   f"{result.cancelled} no longer in the campaign")
    lines = [message, *(f"{note}" for note in prepared.notes)]
    return "; ".join(lines)


def _plain(exc: ValueError) -> str:
    """A validation error in one line, without pydantic's decoration."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                         for e in errors(include_url=False))
    return str(exc)
