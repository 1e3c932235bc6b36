"""Fires planned posts on time with APScheduler; the database decides what is due and who sends it.

APScheduler 3 loses a one-off job that came due while the process was down, and two schedulers
sharing a job store run a job twice. So no post lives in APScheduler: each is a row, claimed with an
atomic UPDATE before sending. The scheduler only holds three in-memory jobs: a wake-up at the next
due time, a periodic sweep (a safety net), and a periodic re-read of the event files.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.abc import Pinning
from bot.alerts import Alerts
from bot.config import AppConfig
from bot.config.settings import DeliverySettings
from bot.delivery import Outcome, Publisher, render_post
from bot.domain import CatchUp, Event, OnUnknown, Platform, PostKind, PostState
from bot.errors import ClaimLost, CredentialsError, OutcomeUnknown, PublishError, RateLimited
from bot.importing import import_events
from bot.planning import deadline, still_useful
from bot.platforms import SPECS
from bot.ratelimit import TokenBucket
from bot.storage import Claims, Store
from bot.storage.tables import PlannedPostRow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Dispatcher:
    """Claims due posts and sends them: one queue per target, so a failing platform delays no other."""

    def __init__(
        self,
        config: AppConfig,
        store: Store,
        claims: Claims,
        publisher: Publisher,
        alerts: Alerts,
        *,
        clock: Clock = utcnow,
        worker: str | None = None,
        reimport: bool = True,
    ) -> None:
        self.config = config
        self.policy: DeliverySettings = config.settings.delivery
        self.store = store
        self.claims = claims
        self.publisher = publisher
        self.alerts = alerts
        self.clock = clock
        self.worker = worker or worker_name()
        self.reimport = reimport
        self.scheduler: AsyncIOScheduler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._target_locks: dict[str, asyncio.Lock] = {}
        self._paused: dict[str, datetime] = {}  # target -> until when, after its credentials failed
        self._buckets: dict[Platform, TokenBucket] = {}
        self._events: dict[str, Event] = {}
        self._stopping = False
        self.idle = asyncio.Event()

    # --- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover what a previous run left half-done, then schedule the wake-up, sweep and re-import jobs."""
        await self.recover()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # Real posts never live in APScheduler, so a missed job loses nothing; still, run late jobs at once.
        defaults = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        self.scheduler.add_job(self.sweep, "interval", seconds=self.policy.sweep_interval, id="sweep",
                               **defaults)
        if self.reimport:
            self.scheduler.add_job(self.import_files, "interval", seconds=self.policy.reimport_interval,
                                   id="reimport", **defaults)
        self.scheduler.start()
        await self.dispatch()

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

    async def recover(self) -> None:
        """Claims whose sender died between claim and receipt: their outcome is unknown."""
        lease = None
        if self.policy.shared_database:
            lease = self.clock() - timedelta(seconds=self.policy.claim_lease)
        for post in self.claims.stale_claims(lease):
            resend = self._on_unknown(post) is OnUnknown.RESEND
            outcome = self.claims.resolve_stale(post, resend=resend)
            if outcome in (None, "released", PostState.SENT.value):
                continue  # settled elsewhere, never sent (planned again), or sent with its receipt on record
            what = f"{post.event_id} {post.step_id} on {post.target} (post #{post.id})"
            if resend:
                log.warning("%s: outcome unknown after a crash; sending again as the campaign says", what)
            else:
                await self.alerts(
                    f"{what}: the bot stopped while sending it, so it may or may not be published. "
                    f"Check the {post.platform} account; `announce-bot retry {post.id}` sends it again."
                )

    async def sweep(self) -> None:
        """The periodic safety net: with replicas, take over the claims of one that died; then dispatch."""
        if self.policy.shared_database:
            await self.recover()
        await self.unpin_finished()
        await self.dispatch()

    async def unpin_finished(self) -> None:
        """Unpin the announcements that live posts pinned, once their event is over."""
        for post in self.claims.pinned_after_the_event(self.clock()):
            adapter = self.publisher.adapter(post.target)
            if isinstance(adapter, Pinning) and post.pinned_message_id:
                try:
                    await adapter.unpin(post.pinned_message_id)
                except PublishError as exc:
                    log.warning("could not unpin the announcement on %s: %s", post.target, exc)
                    if exc.retryable:
                        continue  # try again at the next sweep
            self.claims.set_pinned(post.id, None)

    async def _pin_announcement(self, post: PlannedPostRow, event: Event, outcome: Outcome) -> None:
        """After a live post: add the stream link to the announcement on this target and pin it (`pin_live`)."""
        adapter = self.publisher.adapter(post.target)
        announced = self.claims.sent_post(event.id, post.target, PostKind.ANNOUNCEMENT.value)
        if not isinstance(adapter, Pinning) or announced is None or not announced.post_id:
            return
        announcement = render_post(self.config, self.publisher.renderer, event, PostKind.ANNOUNCEMENT, post.target)
        text = None
        if outcome.post is not None and outcome.post.teaser:
            spec = SPECS[Platform(post.platform)]
            limit = spec.caption_length if announcement.image and spec.caption_length else spec.max_length
            edited = f"{announcement.parts[0].text}\n\n{outcome.post.teaser}"
            text = edited if spec.measure(edited) <= limit else None  # too long to add: pin it as it is
        try:
            await adapter.pin_live(announced.post_id, text, caption=bool(announcement.image))
        except PublishError as exc:
            await self.alerts(f"{event.id}: the live link was posted on {post.target}, but the announcement "
                              f"could not be updated and pinned: {exc}")
            return
        self.claims.set_pinned(post.id, announced.post_id)

    def _on_unknown(self, post: PlannedPostRow) -> OnUnknown:
        step = next((s for s in self.config.campaign.steps if s.id == post.step_id), None)
        return step.on_unknown if step else OnUnknown.REPORT

    async def import_files(self) -> None:
        report = await asyncio.to_thread(import_events, self.config, self.store, self.clock())
        for error in report.errors:
            log.error("event file not imported: %s", error)
        if any(result.outcome != "unchanged" for result in report.results):
            self._events.clear()
            await self.dispatch()

    # --- dispatching ------------------------------------------------------------------------------

    async def dispatch(self) -> int:
        """Claim every due post and start sending it; returns how many were claimed."""
        if self._stopping:
            return 0
        now = self.clock()
        claimed = await asyncio.to_thread(self.claims.claim_due, now, self.worker)
        for post in claimed:
            task = asyncio.create_task(self._deliver(post), name=f"post-{post.id}")
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        if claimed:
            self.idle.clear()
        await self._schedule_wake()
        return len(claimed)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())
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

    def _event(self, event_id: str) -> Event | None:
        if event_id not in self._events:
            event = self.store.event(event_id)
            if event is None:
                return None
            self._events[event_id] = event
        return self._events[event_id]

    async def _deliver(self, post: PlannedPostRow) -> None:
        lock = self._target_locks.setdefault(post.target, asyncio.Lock())
        async with lock:  # one target's posts go out one at a time, in due order
            requeued = True  # if sending raised, re-read the next wake-up all the same
            try:
                requeued = await self._send(post)
            finally:
                # Only a post put back in the queue (to retry later) can bring the next wake-up forward; one
                # sent, failed or skipped cannot, so re-reading the wake-up after every post is wasted work.
                if requeued and not self._stopping:
                    await self._schedule_wake()

    async def _send(self, post: PlannedPostRow) -> bool:
        """Send one claimed post and record the outcome; True if the post went back in the queue (retrying)."""
        now = self.clock()
        event = self._event(post.event_id)
        if event is None or (event.status.value != "scheduled" and post.kind != PostKind.CHANGED):
            self.claims.skipped(post.id, self.worker, "the event is no longer scheduled")
            return False
        catch_up = CatchUp(post.catch_up)
        if reason := still_useful(catch_up, event.start, event.end, now):
            self.claims.skipped(post.id, self.worker, f"too late: {reason}")
            await self.alerts(f"{post.event_id} {post.step_id} on {post.target} skipped: {reason}")
            return False
        if (until := self._paused.get(post.target)) and until > now:
            self.claims.retry_at(post.id, self.worker, until, "paused: the target's credentials failed")
            return True
        if self.policy.rate_limit:
            await self._bucket(Platform(post.platform)).acquire()
        step = next((s for s in self.config.campaign.steps if s.id == post.step_id), None)
        outcome = await self.publisher.publish_one(
            event, PostKind(post.kind), post.target, planned_post_id=post.id, step=step, claimed_by=self.worker
        )
        if isinstance(outcome.error, ClaimLost):
            log.warning("%s: not sent by %s", outcome.error, self.worker)
            return False
        failure = self._settle(post, event, outcome, catch_up)  # the receipt is recorded first
        if outcome.receipt is not None and post.kind == PostKind.LIVE and getattr(
            self.config.settings.targets[post.target], "pin_live", False
        ):
            await self._pin_announcement(post, event, outcome)
        if failure:
            what = f"{post.event_id} {post.step_id} on {post.target} ({post.platform}) failed: {failure}"
            if isinstance(outcome.error, CredentialsError):
                what += f". Posting to {post.target} is paused; fix its credentials and `announce-bot retry {post.id}`."
            await self.alerts(what)
        return failure is None and not outcome.ok  # _settle returns None only for a receipt or a retry

    def _bucket(self, platform: Platform) -> TokenBucket:
        if platform not in self._buckets:
            rate = SPECS[platform].rate_per_second
            self._buckets[platform] = TokenBucket(rate or 1000.0, burst=rate or 1000.0)
        return self._buckets[platform]

    def _settle(self, post: PlannedPostRow, event: Event, outcome: Outcome, catch_up: CatchUp) -> str | None:
        """Record what happened: sent, retry at a time, or failed for good (then return why)."""
        now = self.clock()
        error = outcome.error
        if error is None and outcome.receipt is not None:
            self.claims.sent(post.id, self.worker, outcome.receipt)
            return None
        message = f"{type(error).__name__}: {error}"
        if isinstance(error, CredentialsError):
            self._paused[post.target] = now + timedelta(seconds=self.policy.credentials_pause)
        if not isinstance(error, PublishError) or not error.retryable:
            self.claims.failed(post.id, self.worker, message)
            return message
        if isinstance(error, OutcomeUnknown) and self._on_unknown(post) is OnUnknown.REPORT:
            self.claims.unknown(post.id, self.worker, message)
            return f"{message}. Check the {post.platform} account; `announce-bot retry {post.id}` sends it again"
        if isinstance(error, RateLimited):
            delay = error.retry_after  # exactly as long as the platform said
        elif post.attempts >= self.policy.max_attempts:
            reason = f"gave up after {post.attempts} attempts: {message}"
            self.claims.failed(post.id, self.worker, reason)
            return reason
        else:
            backoff = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (post.attempts - 1))
            delay = backoff * random.uniform(0.5, 1.0)  # jitter spreads retries of many posts apart
        when = now + timedelta(seconds=delay)
        limit = deadline(catch_up, event.start, event.end)
        if limit is not None and when >= limit:
            reason = f"no time left to retry before {limit:%Y-%m-%d %H:%M} UTC: {message}"
            self.claims.failed(post.id, self.worker, reason)
            return reason
        self.claims.retry_at(post.id, self.worker, when, message)
        return None

    @property
    def running(self) -> bool:
        """The scheduler is started and not stopping (for health checks)."""
        return self.scheduler is not None and bool(self.scheduler.running) and not self._stopping

    async def publish_now(self, post_id: int) -> Outcome | None:
        """The organiser's "publish now": claim one planned or retrying post whatever its due time, send it in its
        target's turn and settle it as a sweep would; None if it could not be claimed (sent, in flight, waiting)."""
        post = await asyncio.to_thread(self.claims.claim, post_id, self.clock(), self.worker)
        if post is None:
            return None
        async with self._target_locks.setdefault(post.target, asyncio.Lock()):
            event = self._event(post.event_id)
            if event is None:
                self.claims.failed(post.id, self.worker, "the event is no longer in the database")
                return None
            step = next((s for s in self.config.campaign.steps if s.id == post.step_id), None)
            outcome = await self.publisher.publish_one(
                event, PostKind(post.kind), post.target, planned_post_id=post.id, step=step
            )
            self._settle(post, event, outcome, CatchUp(post.catch_up))
            return outcome

    async def drain(self) -> None:
        """Wait until every started send is recorded (for `run --once` and tests)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)
