"""Fires planned posts on time with APScheduler; the database decides what is due and who sends it.

APScheduler 3 loses a one-off job that came due while the process was down, and two schedulers
sharing a job store run a job twice. So no post lives in APScheduler: each is a row, claimed with an
atomic UPDATE before sending. The scheduler only holds in-memory jobs: a wake-up at the next due time,
a periodic sweep (a safety net), and whatever periodic work the runtime adds (re-reading the event files).

Every post goes out through `_deliver`, whether the scheduler found it due or an organiser asked for it
("publish now", `announce-bot post`, Telegram /post): one claim, one per-target lock, one lease check, one
rate limit, one retry policy and one record of the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import cast

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.abc import Adapter, Editing, Pinning
from bot.alerts import Alerts
from bot.clock import Clock, utcnow
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.config.settings import DeliverySettings, Settings
from bot.delivery import Outcome, Publisher, step_of
from bot.domain import (
    Command,
    Event,
    EventStatus,
    OnUnknown,
    Part,
    PlannedPost,
    Platform,
    PostKind,
    PostState,
    RenderedPost,
    StoredEvent,
)
from bot.errors import ClaimLost, ConfigError, CredentialsError, FitError, OutcomeUnknown, PublishError, RateLimited
from bot.planning import still_useful
from bot.platforms import SPECS
from bot.ratelimit import TokenLimits
from bot.retrying import after_failure
from bot.storage import Claims, Store
from bot.storage.batching import Batcher
from bot.storage.hotpath import EVENT_CHANGED, Settlement

log = logging.getLogger(__name__)

Interval = Callable[[Settings], float]  # a periodic job's seconds, read from the settings (a reload re-arms it)
Periodic = tuple[str, Interval, Callable[[], Awaitable[object]]]  # (job id, seconds, coroutine function)
LATE = timedelta(minutes=2)  # a reminder later than this says how long is really left, not its step's offset


def time_left(post: PlannedPost, event: Event, now: datetime) -> timedelta | None:
    """What a reminder going out at `now` says of the time left: None when its step's own lead is true (it goes
    out within LATE after its time), else the real time left to the minute (negative once started), whether it
    is late after downtime, retried, approved late, or sent early or by hand (`post`). Other kinds say no time
    left."""
    if post.kind is not PostKind.REMINDER:
        return None
    if not post.manual and timedelta() <= now - post.due_at <= LATE:
        return None
    # Minute precision: one rendering serves every target of a reminder going out in the same minute.
    return timedelta(minutes=round((event.start - now).total_seconds() / 60))


def worker_name() -> str:
    """Unique per process and per start: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def alive(worker: str | None) -> bool:
    """Whether the process behind a worker name (see worker_name) still runs on this host."""
    host, _, rest = (worker or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        return True
    return True


@dataclass
class StoredParts:
    """The PartLog of one claimed post: each part's id is written as soon as the platform accepted it (except the
    last, whose receipt follows at once), and the rate limit is taken before each further part."""

    claims: Claims
    post: PlannedPost
    worker: str
    total: int
    limits: TokenLimits
    chat: str | None
    done: tuple[str, ...] = ()
    lost: bool = field(default=False)

    @property
    def key(self) -> str:
        return f"{self.post.event_id}:{self.post.step_id}:{self.post.target}"

    async def record(self, part_id: str) -> None:
        self.done = (*self.done, part_id)
        if len(self.done) >= self.total:
            return
        if not await asyncio.to_thread(self.claims.record_parts, self.post.id, self.worker, self.done):
            self.lost = True
        await self.limits.acquire(self.chat)


class Dispatcher:
    """Claims due posts and sends them: one queue per target, so a failing platform delays no other."""

    def __init__(
        self,
        live: LiveConfig,
        store: Store,
        claims: Claims,
        publisher: Publisher,
        alerts: Alerts,
        *,
        clock: Clock = utcnow,
        worker: str | None = None,
        observer: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.live = live
        self.store = store
        self.claims = claims
        self.batcher = Batcher(claims, clock)  # the two writes of every post, many posts to a commit
        self.publisher = publisher
        self.alerts = alerts
        self.clock = clock
        self.worker = worker or worker_name()
        self.observer = observer
        self.scheduler: AsyncIOScheduler | None = None
        self._intervals: dict[str, Interval] = {}  # periodic job id -> its seconds
        live.subscribe(self._rearm)
        self._tasks: set[asyncio.Task[Outcome]] = set()
        self._target_locks: dict[str, asyncio.Lock] = {}
        self._records: dict[str, StoredEvent] = {}  # events of claimed posts, as last read
        self._paused: dict[str, datetime] = {}  # target -> until when, after its credentials failed
        self._stopping = False
        self._more = False  # the last claim was full: more posts may be due
        self._refills: set[asyncio.Task[int]] = set()
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def config(self) -> AppConfig:
        return self.live.current

    @property
    def policy(self) -> DeliverySettings:
        return self.config.settings.delivery

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self, periodic: Sequence[Periodic] = ()) -> None:
        """Recover what a previous run left half-done, then schedule the wake-up, the sweep and `periodic`."""
        await self.recover()
        await self.check_approvals()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # Real posts never live in APScheduler, so a missed job loses nothing; still, run late jobs at once.
        defaults = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        sweep: Periodic = ("sweep", lambda settings: settings.delivery.sweep_interval, self.sweep)
        for job_id, every, job in [sweep, *periodic]:
            self._intervals[job_id] = every
            self.scheduler.add_job(job, "interval", seconds=every(self.config.settings), id=job_id, **defaults)
        self.scheduler.start()
        await self.dispatch()

    def _rearm(self, old: AppConfig, new: AppConfig) -> None:
        """After a reload: each periodic job whose interval changed runs at the new one from now on."""
        for job_id, every in self._intervals.items():
            if (scheduler := self.scheduler) is not None and every(old.settings) != every(new.settings):
                scheduler.reschedule_job(job_id, trigger="interval", seconds=every(new.settings))

    async def stop(self) -> None:
        """Stop claiming; give in-flight sends `shutdown_grace` seconds to finish and be recorded."""
        self._stopping = True
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.policy.shutdown_grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.publisher.aclose()

    @property
    def running(self) -> bool:
        """The scheduler is started and not stopping (for health checks)."""
        return self.scheduler is not None and bool(self.scheduler.running) and not self._stopping

    async def recover(self) -> None:
        """Claims whose sender died: released if nothing can have left, sent if the receipt is there, else unknown.

        Alone on its database (SQLite), a process takes over every claim but those of processes still running
        on this host (a `post` command sending right now); with replicas, claims older than the lease.
        """
        now = self.clock()
        lease = now - timedelta(seconds=self.policy.claim_lease)
        if self.policy.shared_database:
            stale = await asyncio.to_thread(self.claims.stale_claims, lease)
        else:
            claims = await asyncio.to_thread(self.claims.stale_claims)
            stale = [p for p in claims if p.claimed_by != self.worker and (
                not alive(p.claimed_by) or (p.claimed_at is not None and p.claimed_at < lease))]
        for post in stale:
            resend = self._on_unknown(post) is OnUnknown.RESEND
            state = await asyncio.to_thread(self.claims.resolve_stale, post, resend=resend, now=now)
            if state is PostState.UNKNOWN:
                await self.alerts(
                    f"{post.label}: the bot stopped while sending it, so it may or may not be published. "
                    f"Check the {post.platform.value} account; `announce-bot retry {post.id}` sends it again.")
            elif state is PostState.PLANNED and resend and post.reason != "released":
                log.warning("%s: outcome unknown after a crash; sending again as the campaign says", post.label)
        for post in await asyncio.to_thread(self.claims.receipts_found, now):
            log.warning("%s: its receipt was on record after all: marked sent (%s)", post.label, post.link)

    async def sweep(self) -> None:
        """The periodic safety net: with replicas, take over the claims of one that died; then dispatch."""
        if self.policy.shared_database:
            await self.recover()
        await self.check_approvals()
        await self.unpin_finished()
        await self.dispatch()

    async def check_approvals(self) -> None:
        """Posts that came due without their sign-off wait (the organiser is told once); those whose catch-up
        window closed while waiting are skipped."""
        now = self.clock()
        for post in await asyncio.to_thread(self.claims.hold_for_approval, now):
            await self.alerts(f"{post.label} is due but not approved: it waits for an approver "
                              f"(`announce-bot approve {post.id}`, the dashboard, or the Telegram request)")
        for post in await asyncio.to_thread(self.claims.awaiting_approval):
            stored = await asyncio.to_thread(self.store.record, post.event_id)
            if stored is None:
                continue
            if reason := still_useful(post.catch_up, stored.event.start, stored.event.end, now):
                _, after = await asyncio.to_thread(self.claims.command, post.id, Command.SKIP, now, None,
                                                   f"not approved in time: {reason}")
                if after is not None and after.state is PostState.SKIPPED:
                    await self.alerts(f"{post.label} skipped: it was not approved in time ({reason})")

    async def unpin_finished(self) -> None:
        """Unpin the announcements that live posts pinned, once their event is over."""
        for post in await asyncio.to_thread(self.claims.pinned_after_the_event, self.clock()):
            adapter = self.publisher.adapter(post.target)
            if isinstance(adapter, Pinning) and post.pinned_message_id:
                try:
                    await adapter.unpin(post.pinned_message_id)
                except PublishError as exc:
                    log.warning("could not unpin the announcement on %s: %s", post.target, exc)
                    if exc.retryable:
                        continue  # try again at the next sweep
            await asyncio.to_thread(self.claims.set_pinned, post.id, None)

    def _on_unknown(self, post: PlannedPost) -> OnUnknown:
        step = step_of(self.config, post.step_id)
        return step.on_unknown if step else OnUnknown.REPORT

    # --- dispatching ------------------------------------------------------------------------------

    async def dispatch(self) -> int:
        """Claim due posts, as many as can start soon, and start sending them; returns how many were claimed.

        A process claims no further ahead than `claim_ahead` posts in flight: claims it could not start for a
        while would only age past their lease, and replicas sharing a database would not share the work.
        When more remain due, the next batch is claimed as these finish.
        """
        if self._stopping:
            return 0
        room = self.policy.claim_ahead - len(self._tasks)
        if room < max(1, self.policy.claim_ahead // 2):  # claim in chunks: each claim is a write of its own
            self._more = True
            return 0
        claimed = await asyncio.to_thread(self.claims.claim_due, self.clock(), self.worker, room)
        self._more = len(claimed) == room
        if claimed:  # their events, read once for the batch (each start checks the version is still current)
            found = await asyncio.to_thread(self.store.records_of, {post.event_id for post in claimed})
            self._records.update(found)
        for post in claimed:
            task = asyncio.create_task(self._deliver(post), name=f"post-{post.id}")
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        if claimed:
            self.idle.clear()
        await self._schedule_wake()
        return len(claimed)

    async def publish_now(self, post_id: int, *, actor: str | None = None) -> Outcome | None:
        """The organiser's "publish now": claim one planned or retrying post whatever its due time, send it in its
        target's turn exactly as the scheduler would (lease, rate limit, retries, record); None if it could not
        be claimed (sent, in flight, waiting, or not planned)."""
        if self._stopping:
            return None
        post = await asyncio.to_thread(self.claims.claim, post_id, self.clock(), self.worker)
        if post is None:
            return None
        return await self._deliver(post, manual=True, actor=actor)

    def _task_done(self, task: asyncio.Task[Outcome]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())
        if self._more and not self._stopping and len(self._tasks) <= self.policy.claim_ahead // 2:
            self._more = False  # claim the next batch now that there is room (one refill at a time)
            refill = asyncio.create_task(self.dispatch(), name="refill")
            self._refills.add(refill)
            refill.add_done_callback(self._refills.discard)
        if not self._tasks:
            self.idle.set()

    async def _schedule_wake(self) -> None:
        if self.scheduler is None:
            return
        wake = await asyncio.to_thread(self.claims.next_wake)
        if wake is None or self.scheduler is None:  # nothing planned, or stop() ran meanwhile
            return
        # The wake-up job re-arms itself at its end, for "now" when a full batch left more posts due: a second
        # instance must be allowed to start while the first finishes, or APScheduler skips it (claims are atomic).
        self.scheduler.add_job(self.dispatch, "date", run_date=max(wake, utcnow()), id="wake",
                               replace_existing=True, misfire_grace_time=None, coalesce=True, max_instances=2)

    async def drain(self) -> None:
        """Wait until every started send is recorded, refills included (for `run --once` and tests)."""
        while self._tasks or self._refills:
            await asyncio.gather(*self._tasks, *self._refills, return_exceptions=True)

    # --- one post ---------------------------------------------------------------------------------

    async def _deliver(self, post: PlannedPost, *, manual: bool = False, actor: str | None = None) -> Outcome:
        lock = self._target_locks.setdefault(post.target, asyncio.Lock())
        async with lock:  # one target's posts go out one at a time, in due order
            outcome, after = await self._send(post, manual=manual, actor=actor)
        if after is not None:
            # A sent post's receipt is written right after its request, but the target's next post need not wait
            # for that commit: its own start is written meanwhile, often in the same transaction.
            outcome = await after
        # Only a post put back in the queue (to retry later) can bring the next wake-up forward.
        if outcome.state is PostState.RETRYING and not self._stopping:
            await self._schedule_wake()
        if self.observer is not None:
            self.observer(outcome)
        return outcome

    async def _settle(self, post: PlannedPost, delivery_id: int | None, settlement: Settlement,
                      outcome: Outcome) -> Outcome:
        recorded = await self.batcher.settle(post, self.worker, delivery_id, settlement)
        if not recorded:
            log.warning("%s: its claim was taken over while it was being sent (%s)", post.label,
                        settlement.state.value)
        return replace(outcome, state=settlement.state, note=settlement.reason)

    async def _record(self, event_id: str) -> StoredEvent | None:
        stored = await asyncio.to_thread(self.store.record, event_id)
        if stored is None:
            self._records.pop(event_id, None)
        else:
            self._records[event_id] = stored
        return stored

    async def _send(self, post: PlannedPost, *, manual: bool, actor: str | None
                    ) -> tuple[Outcome, Awaitable[Outcome] | None]:
        """Send one claimed post and record the outcome; never raises for a platform's failure. Returns the outcome
        and, for a sent post, what is left to do once the target is free for its next post (the receipt's commit)."""
        stored = self._records.get(post.event_id) or await self._record(post.event_id)
        for _ in range(3):
            sent = await self._attempt(post, stored, manual=manual, actor=actor)
            if sent is not None:
                return sent
            stored = await self._record(post.event_id)  # changed since it was rendered: once more, as it is now
        lost = ClaimLost(f"{post.label}: its event kept changing while it was being sent; it is tried again later")
        base = Outcome(target=post.target, platform=post.platform, kind=post.kind, planned=post, error=lost)
        settlement = Settlement(state=PostState.RETRYING, next_attempt_at=self.clock() + timedelta(seconds=30),
                                reason=str(lost))
        return await self._settle(post, None, settlement, base), None

    async def _attempt(self, post: PlannedPost, stored: StoredEvent | None, *, manual: bool, actor: str | None
                       ) -> tuple[Outcome, Awaitable[Outcome] | None] | None:
        """One try at `_send` with `stored` as read; None when the event changed before the request could leave."""
        now = self.clock()
        base = Outcome(target=post.target, platform=post.platform, kind=post.kind, planned=post)
        if reason := self._not_wanted(stored, post):
            return await self._settle(post, None, Settlement(state=PostState.SKIPPED, reason=reason), base), None
        assert stored is not None
        event = stored.event
        if reason := await self._too_late(post, event, now, manual=manual):
            await self.alerts(f"{post.label} skipped: {reason}")
            return await self._settle(post, None, Settlement(state=PostState.SKIPPED, reason=reason), base), None
        if manual:
            self._paused.pop(post.target, None)  # the organiser asks again: try the credentials again
        elif (until := self._paused.get(post.target)) and until > now:
            settlement = Settlement(state=PostState.RETRYING, next_attempt_at=until,
                                    reason="paused: the target's credentials failed")
            return await self._settle(post, None, settlement, base), None
        if post.edits is not None:
            return await self._correct(post, stored, actor, base)
        step = step_of(self.config, post.step_id)
        left = time_left(post, event, now)
        try:
            # As rendered when it was planned, while its inputs hold and it says nothing that depends on the moment.
            rendered = (self.publisher.as_planned(post, stored) if left is None else None) or \
                await self.publisher.render_off_loop(stored, post.kind, post.target, step, left)
        except (ConfigError, FitError) as exc:
            message = f"cannot render it: {exc}"
            await self.alerts(f"{post.label} failed: {message}")
            return await self._settle(post, None, Settlement(state=PostState.FAILED, reason=message,
                                                             error=message, error_kind=type(exc).__name__),
                                      replace(base, error=exc)), None
        base = replace(base, post=rendered)
        adapter = self.publisher.adapter(post.target)
        limits = self.publisher.limits_for(post.target)
        chat = getattr(self.config.settings.targets[post.target], "chat_id", None)
        try:
            await adapter.prepare()
        except PublishError as exc:  # nothing was sent: settle like any failure, with nothing in flight
            return await self._failed(post, event, None, exc, adapter, base), None
        await limits.acquire(chat)
        delivery_id = await self.batcher.start(post, self.worker, actor, stored)
        if delivery_id == EVENT_CHANGED:
            return None
        if delivery_id is None:
            lost = ClaimLost(f"{post.label} was taken over by another worker")
            log.warning("%s: not sent by %s", lost, self.worker)
            return replace(base, error=lost), None
        parts = StoredParts(self.claims, post, self.worker, len(rendered.parts), limits, chat, done=post.parts)
        fields = {"event": post.event_id, "kind": post.kind.value, "platform": post.platform.value,
                  "target": post.target, "post": post.id}
        try:
            receipt = await adapter.publish(rendered, parts)
        except PublishError as exc:
            log.warning("%s %s to %s failed: %s", post.event_id, post.kind.value, post.target, exc, extra=fields)
            return await self._failed(post, event, delivery_id, exc, adapter, base), None
        except Exception as exc:  # a bug in an adapter must not stop the others; the request may have left
            log.exception("%s %s to %s: unexpected error", post.event_id, post.kind.value, post.target, extra=fields)
            error = OutcomeUnknown(f"unexpected error in the {post.platform.value} adapter ({type(exc).__name__}) "
                                   "after the request may have left")
            return await self._failed(post, event, delivery_id, error, adapter, base), None
        log.info("%s %s sent to %s: %s", post.event_id, post.kind.value, post.target, receipt.link or receipt.post_id,
                 extra=fields)
        sent = replace(base, receipt=receipt, state=PostState.SENT)
        return sent, self._after_sent(post, event, rendered, delivery_id, sent)

    async def _correct(self, post: PlannedPost, stored: StoredEvent, actor: str | None, base: Outcome
                       ) -> tuple[Outcome, Awaitable[Outcome] | None] | None:
        """Edit a published post to say what the event says now (where the platform cannot edit, the change notice
        goes with it as a reply or a comment). The edit is in the delivery log like any attempt."""
        original = await asyncio.to_thread(self.store.post, post.edits or 0)
        adapter = self.publisher.adapter(post.target)
        if original is None or original.state is not PostState.SENT or not (original.parts or original.post_id):
            reason = "nothing to correct: the post it edits was not published"
        elif not isinstance(adapter, Editing):
            reason = f"{post.platform.value} posts cannot be edited here; the change notice says what changed"
        else:
            reason = None
        if reason is not None or original is None:
            return await self._settle(post, None, Settlement(state=PostState.SKIPPED, reason=reason), base), None
        try:
            rendered = self.publisher.render_cached(stored, original.kind, post.target,
                                                    step_of(self.config, original.step_id))
            notice: RenderedPost | None = (_teaser(rendered) if original.kind is PostKind.SUMMARY  # the recording
                                           else self.publisher.render_cached(stored, PostKind.CHANGED, post.target))
        except (ConfigError, FitError) as exc:
            message = f"cannot render the corrected post: {exc}"
            return await self._settle(post, None, Settlement(state=PostState.FAILED, reason=message, error=message,
                                                             error_kind=type(exc).__name__), base), None
        if notice is not None and stored.event.status is not EventStatus.SCHEDULED:
            rendered = _flagged(rendered, notice)  # a cancelled or postponed event's announcement says so on top
        base = replace(base, post=rendered)
        assert isinstance(adapter, Editing)
        delivery_id = await self.batcher.start(post, self.worker, actor, stored)
        if delivery_id == EVENT_CHANGED:
            return None
        if delivery_id is None:
            return replace(base, error=ClaimLost(f"{post.label} was taken over by another worker")), None
        ids = original.parts or (original.post_id or "",)
        try:
            receipt = await adapter.edit(ids, rendered, notice)
        except PublishError as exc:
            return await self._failed(post, stored.event, delivery_id, exc, cast(Adapter, adapter), base), None
        log.info("%s corrected on %s: %s", original.label, post.target, receipt.link or receipt.post_id)
        sent = replace(base, receipt=receipt, state=PostState.SENT)
        return sent, self._settle(post, delivery_id, Settlement(state=PostState.SENT, receipt=receipt), sent)

    async def _after_sent(self, post: PlannedPost, event: Event, rendered: RenderedPost, delivery_id: int,
                          sent: Outcome) -> Outcome:
        assert sent.receipt is not None
        outcome = await self._settle(post, delivery_id, Settlement(state=PostState.SENT, receipt=sent.receipt), sent)
        if post.kind is PostKind.LIVE and getattr(self.config.settings.targets[post.target], "pin_live", False):
            await self._pin_announcement(post, event, rendered)
        return outcome

    def _not_wanted(self, stored: StoredEvent | None, post: PlannedPost) -> str | None:
        if stored is None:
            return "the event is no longer in the database"
        if stored.withdrawn is not None:
            return f"the event was withdrawn: {stored.withdrawn}"
        if not stored.active and post.kind is not PostKind.CHANGED and post.edits is None:
            # A cancellation notice still goes out, and so do the corrections of what was published.
            return f"the event is {stored.event.status.value}"
        return None

    async def _too_late(self, post: PlannedPost, event: Event, now: datetime, *, manual: bool = False) -> str | None:
        """Why a due post is no longer worth sending: past its catch-up window, or a later reminder is due too
        (after downtime, people get the latest reminder, saying how long is really left, not every one). What an
        organiser sends by hand goes out late, except a reminder past its window: it would announce a start that
        has passed."""
        if manual and post.kind is not PostKind.REMINDER:
            return None
        if reason := still_useful(post.catch_up, event.start, event.end, now):
            return f"too late: {reason}"
        if manual:
            return None
        if post.kind is PostKind.REMINDER:
            others = await asyncio.to_thread(self.store.posts, post.event_id)
            later = [p for p in others if p.target == post.target and p.kind is PostKind.REMINDER
                     and post.due_at < p.due_at <= now and p.state in (PostState.PLANNED, PostState.CLAIMED,
                                                                       PostState.RETRYING, PostState.SENT)]
            if later:
                return f"superseded by {later[-1].step_id}, also due"
        return None

    async def _failed(self, post: PlannedPost, event: Event, delivery_id: int | None, error: PublishError,
                      adapter: Adapter, base: Outcome) -> Outcome:
        settlement = self._settlement(post, event, error, adapter)
        outcome = await self._settle(post, delivery_id, settlement, replace(base, error=error))
        what = f"{post.label} ({post.platform.value})"
        if settlement.state is PostState.FAILED:
            text = f"{what} failed: {settlement.reason}"
            if isinstance(error, CredentialsError):
                text += f". Posting to {post.target} is paused; fix its credentials and `announce-bot retry {post.id}`."
            await self.alerts(text)
        elif settlement.state is PostState.UNKNOWN:
            await self.alerts(f"{what} may or may not be published: {settlement.reason}")
        elif isinstance(error, RateLimited) and error.retry_after >= self.policy.alert_wait:
            assert settlement.next_attempt_at is not None
            await self.alerts(f"{what}: {error}; it will be tried again at "
                              f"{settlement.next_attempt_at:%Y-%m-%d %H:%M} UTC")
        return outcome

    def _settlement(self, post: PlannedPost, event: Event, error: PublishError, adapter: Adapter) -> Settlement:
        """What a failure means for the post (bot/retrying.py); a target whose credentials failed pauses."""
        now = self.clock()
        if isinstance(error, CredentialsError):
            self._paused[post.target] = now + timedelta(seconds=self.policy.credentials_pause)
        return after_failure(post, event, error, idempotent=adapter.idempotent, on_unknown=self._on_unknown(post),
                             policy=self.policy, now=now)

    async def _pin_announcement(self, post: PlannedPost, event: Event, live: RenderedPost) -> None:
        """After a live post: add the stream link to the announcement on this target and pin it (`pin_live`)."""
        adapter = self.publisher.adapter(post.target)
        announced = await asyncio.to_thread(self.claims.sent_post, event.id, post.target, PostKind.ANNOUNCEMENT)
        if not isinstance(adapter, Pinning) or announced is None or not announced.post_id:
            return
        announcement = self.publisher.render(event, PostKind.ANNOUNCEMENT, post.target, live_now=True)
        teaser = live.teaser
        text = None
        if teaser:
            spec = SPECS[Platform(post.platform)]
            limit = spec.part_limit(0, image=bool(announcement.image))
            edited = f"{announcement.parts[0].text}\n\n{teaser}"
            text = edited if spec.measure(edited) <= limit else None  # too long to add: pin it as it is
        try:
            await adapter.pin_live(announced.post_id, text, caption=bool(announcement.image))
        except PublishError as exc:
            await self.alerts(f"{event.id}: the live link was posted on {post.target}, but the announcement "
                              f"could not be updated and pinned: {exc}")
            return
        await asyncio.to_thread(self.claims.set_pinned, post.id, announced.post_id)


def _teaser(post: RenderedPost) -> RenderedPost | None:
    """The line a post adds to itself where it cannot be edited (a summary's recording), as a post of its own."""
    if not post.teaser:
        return None
    part = Part(text=post.teaser, length=SPECS[post.platform].measure(post.teaser))
    return post.model_copy(update={"parts": (part,), "fitted": False, "image": None})


def _flagged(post: RenderedPost, notice: RenderedPost) -> RenderedPost:
    """`post` with the notice's first line on top ("❗ Cancelled: …"), where it still fits the platform's limit."""
    spec = SPECS[post.platform]
    flag = notice.parts[0].text.split("\n\n", 1)[0]
    first = f"{flag}\n\n{post.parts[0].text}"
    if spec.measure(first) > spec.part_limit(0, image=bool(post.image)):
        return post
    parts = (post.parts[0].model_copy(update={"text": first, "length": spec.measure(first)}), *post.parts[1:])
    return post.model_copy(update={"parts": parts})


__all__ = ["Dispatcher", "StoredParts", "alive", "worker_name"]
