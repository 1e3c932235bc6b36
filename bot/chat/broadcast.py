"""Personal reminders at scale: durable rows per (person, event, step), claimed in batches, sent at each messenger's
pace (one Broadcaster per messenger, each claiming its own people's rows, sending through its `Courier`).

The campaign's reminder and live steps fire here too, independently of the channel posts: a periodic sweep
finds the steps that came due (with the campaign's catch-up rules) and queues one row per subscriber with
one INSERT ... SELECT that skips rows that exist. The unique key (person, event, step) means a person never
gets the same reminder twice, even across restarts.

Sending: rows are `claimed` in batches (one transaction), then marked `sending` a small group at a time (one
transaction per group: the sends of the next ~20 ms, written while the group before goes out), and their
receipts written in groups (while one group is written, the next gathers). A crash leaves `claimed` rows
(given back) and the `sending` ones, which are reported unknown and never sent again: the sends in flight,
the receipts not yet written, and the two small groups marked ahead of them. Sends go through the bot
token's shared limits (bot/ratelimit.py: channel posts and chat replies count there too) on an even grid at
`broadcast_rate` (at most the messenger's declared rate, bot/platforms.py); a 429 pauses everything the token
sends for as long as the messenger asks; a person who blocked the bot is marked inactive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.alerts import Alerts
from bot.chat.callbacks import Calendar, EventCard
from bot.chat.core import Button, Keyboard, keyboard, live_lines, when_line
from bot.chat.texts import esc, t
from bot.clock import Clock, utcnow
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.config.settings import ChatSettings
from bot.domain import CatchUp, Event, Platform, PostKind, ReminderState, Step
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.planning import still_useful
from bot.platforms import SPECS
from bot.ratelimit import Pacer, Slot, TokenLimits
from bot.rendering.context import until, view
from bot.storage.chat import ChatStore
from bot.storage.reminders import Progress, Reminder, ReminderQueue, Settled

log = logging.getLogger("announce_bot.chat.broadcast")

Ready = tuple[Reminder, str, Keyboard]  # a row marked `sending`, its text and buttons
MAX_ATTEMPTS = 5
HEADROOM = 0.99  # sends are spaced for 99% of the rate; the token's windows hold the limit itself
MARK_AHEAD = 0.02  # seconds of sends marked `sending` in one transaction (and of receipts written in one)
RECEIPT_DELAY = 0.1  # seconds a receipt waits for a transaction to ride with
IN_FLIGHT = 16  # sends waiting for their answer at most: 16 x a 10 ms round trip is 1,600/s
STOP_GRACE = 2.0  # seconds the sender gets to stop between two sends before it is cancelled


class Unreachable(PermanentError):
    """The person blocked the bot (`blocked`), or their chat is gone: nothing more is sent to them until they write
    again."""

    def __init__(self, message: str, *, blocked: bool) -> None:
        super().__init__(message)
        self.blocked = blocked


class Courier(Protocol):
    """Sends personal reminders on one messenger. A failure is one of the bot's errors, by the rule every sender
    follows (bot/adapters/transport.py): TransientError when the request never left (tried again), OutcomeUnknown
    when it may have arrived (never sent twice), RateLimited, Unreachable, CredentialsError or PermanentError."""

    messenger: Platform
    paid_broadcasts: bool  # the messenger sells sends above its free rate (Telegram's allow_paid_broadcast)

    async def send(self, row: Reminder, text: str, buttons: Keyboard, slot: Slot, *, paid: bool) -> int | None:
        """Send in the pacer's `slot` (taken already: not taken again); the message's id, if a number."""


def due_steps(event: Event, steps: Sequence[Step], kinds: Sequence[str], now: datetime
              ) -> tuple[list[Step], list[tuple[Step, str]]]:
    """The steps to send to people now, and those to record as not sent (too late, or superseded).

    When several steps of one kind are due at once (the bot was down, or the event was added late), only
    the latest is sent: a person gets one reminder, not the day-before one and the hour-before one together.
    """
    send: dict[str, Step] = {}
    drop: list[tuple[Step, str]] = []
    # Steps timed from an accreditation deadline are for the media: channels only, no personal reminder.
    mine = [s for s in steps if s.kind.value in kinds and s.anchor != "accreditation_deadline"]
    for step in sorted((s for s in mine if s.due(event) <= now), key=lambda s: s.due(event)):
        if reason := still_useful(step.catch_up, event.start, event.end, now):
            drop.append((step, f"too late: {reason}"))
            continue
        if (earlier := send.get(step.kind.value)) is not None:
            drop.append((earlier, f"superseded by {step.id}"))
        send[step.kind.value] = step
    return list(send.values()), drop


def reminder_text(event: Event, kind: str, lang: str, now: datetime) -> str:
    shown = view(event, lang)
    if kind == PostKind.LIVE.value:
        lines = [t("reminder_live", lang, title=shown.title)]
    elif kind == PostKind.CHANGED.value:  # the event changed after people subscribed: tell them how it stands
        status = event.status.value if event.status.value in ("cancelled", "postponed") else "moved"
        lines = [t(f"changed_{status}", lang, title=shown.title)]
        if status == "moved":
            lines += [when_line(shown, lang), ", ".join(p for p in (shown.venue, shown.address) if p)]
    else:
        left = max(event.start - now, timedelta(minutes=1))
        # By the event's calendar, as the channel posts count it ("tomorrow", not "in 1 day").
        lines = [t("reminder", lang, title=shown.title, until=until(left, lang, event.start),
                   when=when_line(shown, lang), venue=", ".join(p for p in (shown.venue, shown.address) if p))]
    links = live_lines(shown)
    if links:
        lines += ["", f"📺 <b>{esc(t('live_links', lang))}</b>", *links]
    lines += ["", f"<i>{t('reminder_footer', lang)}</i>"]
    return "\n".join(lines)


def reminder_keyboard(event_key: str, lang: str) -> Keyboard:
    return keyboard([Button(text=t("btn_calendar", lang), data=Calendar(event_key)),
                     Button(text=t("btn_back", lang), data=EventCard(event_key))])


class _Receipts:
    """Outcomes written in groups: with the next group's marks (`take`), else once `group` of them gathered or
    `delay` after the first; while one group is being written, the next one gathers (a group commit)."""

    def __init__(self, write: Callable[[list[Settled], list[int]], None], group: int, delay: float) -> None:
        self._write = write
        self._group = group
        self._delay = delay
        self._settled: list[Settled] = []
        self._blocked: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writer: asyncio.Task[None] | None = None

    def add(self, settled: Sequence[Settled], blocked: int | None = None) -> None:
        self._settled.extend(settled)
        if blocked is not None:
            self._blocked.append(blocked)
        if len(self._settled) >= self._group:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self.flush)

    def take(self) -> tuple[list[Settled], list[int]]:
        """What gathered, for a transaction that writes it along with something else."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        taken = self._settled, self._blocked
        self._settled, self._blocked = [], []
        return taken

    def flush(self) -> None:
        """Write what gathered now (after the write under way, if any)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if (self._settled or self._blocked) and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._run(), name="reminder-receipts")

    async def _run(self) -> None:
        while self._settled or self._blocked:
            settled, self._settled = self._settled, []
            blocked, self._blocked = self._blocked, []
            try:
                await asyncio.to_thread(self._write, settled, blocked)
            except Exception:  # the rows stay `sending`: reported unknown after a restart, never sent twice
                log.exception("could not record %d personal reminder outcome(s)", len(settled))

    @property
    def busy(self) -> bool:
        return bool(self._settled or self._blocked) or (self._writer is not None and not self._writer.done())

    def abandon(self) -> None:
        """Nothing more is written (a crash)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._writer is not None:
            self._writer.cancel()
        self._settled, self._blocked = [], []

    async def drain(self) -> None:
        """Until everything added so far is written."""
        self.flush()
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)


class Broadcaster:
    """Queues due reminders and sends them: `start()` runs the sweep and the sender until `stop()`.

    `courier` sends on one messenger (the chat Application's bot for Telegram, whose rate limiter works on
    `limits`), and `limits` are that bot token's shared limits; `limits.clock` and `limits.sleep` are the sender's
    time (a test's virtual one). Only the rows of the courier's messenger are claimed.
    """

    def __init__(
        self,
        live: LiveConfig,
        queue: ReminderQueue,
        courier: Courier,
        limits: TokenLimits,
        *,
        chats: ChatStore,
        alerts: Alerts | None = None,
        clock: Clock = utcnow,
        worker: str | None = None,
        key: Callable[[str], str] = lambda event_id: event_id,
        observer: Callable[[list[Progress]], None] | None = None,
        rate: float | None = None,
    ) -> None:
        self.live = live
        self.queue = queue
        self.chats = chats
        self.courier = courier
        self.messenger = courier.messenger
        self.limits = limits
        self.alerts = alerts
        self.clock = clock
        self.worker = worker or f"chat:{uuid.uuid4().hex[:12]}"  # unique per process: claims say whose they are
        self.key = key
        self.observer = observer
        self.paid = self.settings.paid_broadcast and courier.paid_broadcasts
        wanted = rate or self.settings.broadcast_rate
        self.rate = min(wanted, limits.ceiling(paid=self.paid))
        if self.rate < wanted:
            log.warning("personal reminders on %s go at %g/s, not broadcast_rate = %g: that is its limit%s",
                        SPECS[self.messenger].label, self.rate, wanted,
                        " without paid broadcasts ([chat] paid_broadcast)" if courier.paid_broadcasts and not self.paid
                        else "")
        self.pacer = Pacer(limits, self.rate * HEADROOM, paid=self.paid)
        self._group = max(1, round(self.rate * MARK_AHEAD))
        # Receipts mostly ride with the next group's marks; alone only after RECEIPT_DELAY or two groups' worth.
        self._receipts = _Receipts(self._record, 2 * self._group, RECEIPT_DELAY)
        self._wake = asyncio.Event()  # a sweep queued something
        self._halt = asyncio.Event()  # stop() was called
        self._stopping = False
        self._crashed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._inflight = asyncio.Semaphore(IN_FLIGHT)
        self.sent = 0
        self._outcomes = 0  # rows settled so far (sent, failed, requeued...), so idle loops report nothing
        self._reported = -1

    @property
    def config(self) -> AppConfig:
        return self.live.current

    @property
    def settings(self) -> ChatSettings:
        return self.config.settings.chat

    @property
    def busy(self) -> bool:
        """Sends are waiting for their answer, or outcomes for their transaction."""
        return bool(self._tasks) or self._receipts.busy

    # -- life cycle -------------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a crash: claimed rows back to the queue, rows caught `sending` reported unknown."""
        delivery = self.config.settings.delivery
        older = self.clock() - timedelta(seconds=delivery.claim_lease) if delivery.shared_database else None
        back, unknown = await asyncio.to_thread(self.queue.recover, older, self.messenger)
        if unknown:
            message = (f"{unknown} personal reminder(s) were being sent when the bot stopped: they may or may not "
                       "have arrived, and are not sent again (no one gets a reminder twice)")
            if self.alerts is not None:
                await self.alerts(message)
            else:
                log.warning("%s", message)
        if back:
            log.info("%d claimed personal reminders given back to the queue", back)

    async def start(self) -> None:
        await self.recover()
        self._loops = [asyncio.create_task(self._sweep_loop(), name="reminder-sweep"),
                       asyncio.create_task(self.run(), name="reminder-sender")]

    async def stop(self) -> None:
        """Stop between two sends (rows not sent go back to the queue), let the sends in flight finish, write
        their receipts."""
        self._stopping = True
        self._wake.set()
        self._halt.set()
        if self._loops:
            _, late = await asyncio.wait(self._loops, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._loops, return_exceptions=True)
        await self.settled()

    def write_receipts(self) -> None:
        """Write the outcomes gathered so far now, without waiting for the group to fill."""
        self._receipts.flush()

    def crash(self) -> None:
        """Stop where it is, as a killed process would: no rows given back, no receipts written after this (what
        a crash leaves, shown in-process by the tests and the benchmark; a write already in its thread lands)."""
        self._crashed = True
        for task in (*self._loops, *self._tasks):
            task.cancel()
        self._receipts.abandon()

    async def settled(self) -> None:
        """Until every send started has its outcome written."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)
        await self._receipts.drain()

    async def _sweep_loop(self) -> None:
        while not self._stopping:
            try:
                await self.sweep()
            except Exception:
                log.exception("could not queue the due personal reminders")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), timeout=self.settings.reminder_sweep)

    # -- queueing ---------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Queue every reminder step that came due; returns how many people were queued."""
        return await asyncio.to_thread(self._sweep, self.clock())

    def _sweep(self, now: datetime) -> int:
        queued = 0
        steps = [s for s in self.config.campaign.steps if s.kind.value in self.settings.reminder_kinds
                 and s.anchor != "accreditation_deadline"]  # for the media: channels only (see due_steps)
        live = self.queue.live_events(now)
        done = self.queue.broadcasts([event_id for event_id, _, _ in live])
        for event_id, start, end in live:
            # Only an event with a due step not yet recorded is read (a thousand upcoming events cost one query).
            if all((event_id, s.id) in done or (start if s.anchor == "start" else end) + s.offset > now for s in steps):
                continue
            event = self.chats.event(event_id)
            if event is None:
                continue
            send, drop = due_steps(event, self.config.campaign.steps, self.settings.reminder_kinds, now)
            for step, note in drop:
                self.queue.enqueue(event.id, step.id, step.kind.value, step.due(event), now, note, people=False)
            for step in send:
                count = self.queue.enqueue(event.id, step.id, step.kind.value, step.due(event), now)
                if count:
                    log.info("queued %d personal reminders: %s %s", count, event.id, step.id)
                    queued += count
        if queued:
            self._wake.set()
        return queued

    # -- sending ----------------------------------------------------------------------------------

    async def run(self, *, until_empty: bool = False) -> None:
        """Claim batches and send them, until stopped (or, with `until_empty`, until nothing is queued)."""
        last_report = -math.inf
        while not self._stopping:
            batch = await asyncio.to_thread(self.queue.claim, self.clock(), self.worker, self.settings.broadcast_batch,
                                            self.messenger)
            if not batch:
                await self.settled()
                await self._report()
                if until_empty and not await asyncio.to_thread(self.queue.open_count, self.messenger):
                    return
                await self._nap()
                continue
            await self._send_batch(batch)
            if self.limits.clock() - last_report > 1.0:
                last_report = self.limits.clock()
                await self._report()

    async def _nap(self) -> None:
        """Nothing to claim: wait until the earliest row put off comes due (at most a second), or a sweep wakes us."""
        due = await asyncio.to_thread(self.queue.next_due, self.messenger)
        wait = 1.0 if due is None else min(1.0, max(0.01, (due - self.clock()).total_seconds()))
        self._wake.clear()
        nap = asyncio.ensure_future(self.limits.sleep(wait))
        woken = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait((nap, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            woken.cancel()

    async def _send_batch(self, batch: list[Reminder]) -> None:
        """Mark a group `sending` while the group before goes out, one send per slot of the pacer. Stopping (or
        cancelled by `stop()`), the rows not sent go back to the queue."""
        groups = [batch[i:i + self._group] for i in range(0, len(batch), self._group)]
        events: dict[str, Event | None] = {}
        seen: set[int] = set()  # chats given a reminder from this batch: one each, the rest go back for later
        marking: asyncio.Task[list[Ready]] | None = asyncio.create_task(self._mark(groups[0], events, seen))
        following = 1  # the first group not yet being marked
        unsent: list[Ready] = []  # marked `sending`, not yet handed to a send
        try:
            while marking is not None and not self._stopping:
                unsent = list(await asyncio.shield(marking))  # a cancelled sender still learns what was marked
                marking = None
                if following < len(groups):
                    marking = asyncio.create_task(self._mark(groups[following], events, seen))
                    following += 1
                while unsent and not self._stopping:
                    await self._fire(*unsent[0])
                    del unsent[0]
        except asyncio.CancelledError:
            if not self._crashed:
                await self._give_back(unsent, marking, groups[following:])
            raise
        if self._stopping:
            await self._give_back(unsent, marking, groups[following:])

    async def _give_back(self, unsent: list[Ready], marking: asyncio.Task[list[Ready]] | None,
                         claimed: list[list[Reminder]]) -> None:
        """Rows marked but never sent, and rows still only claimed, go back to the queue."""
        if marking is not None:
            unsent = unsent + await marking
        rows = [Settled(row_id=row.id, state=ReminderState.QUEUED, unsent=True) for row, _, _ in unsent]
        await asyncio.to_thread(self.queue.settle, self.worker, rows)
        await asyncio.to_thread(self.queue.release, [row for group in claimed for row in group], self.worker)

    async def _report(self, force: bool = False) -> None:
        """Tell the observer (the console's progress bar) how far the broadcasts are, when something moved."""
        if self.observer is None or (self._reported == self._outcomes and not force):
            return
        self._reported = self._outcomes
        self.observer(await asyncio.to_thread(self.queue.progress))

    async def _mark(self, group: list[Reminder], events: dict[str, Event | None], seen: set[int]) -> list[Ready]:
        """Checks (the event, the campaign, the chat's pace), then one transaction: the group marked `sending`,
        the pointless ones skipped, the ones whose chat had a message too recently put off."""
        for event_id in {row.event_id for row in group} - set(events):
            events[event_id] = await asyncio.to_thread(self.chats.event, event_id)
        now = self.clock()
        skipped: list[tuple[int, str]] = []
        later: list[tuple[int, datetime]] = []
        go: list[Reminder] = []
        for row in group:
            event = events[row.event_id]
            if (reason := self._pointless(row, event, now)) is not None:
                skipped.append((row.id, reason))
                continue
            busy = self.limits.delay(str(row.chat_id))
            if busy > 0 or row.chat_id in seen:  # later, without holding up the others
                later.append((row.id, now + timedelta(seconds=max(busy, 1.0))))
                continue
            seen.add(row.chat_id)
            go.append(row)
        settled, blocked = self._receipts.take()  # the receipts so far go in the same transaction
        marked = await asyncio.to_thread(self.queue.mark, self.worker, [row.id for row in go], skipped, later, settled)
        if blocked:
            await asyncio.to_thread(self._deactivate, blocked)
        self._outcomes += len(skipped) + len(later)
        texts: dict[tuple[str, str, str], str] = {}
        buttons: dict[tuple[str, str], Keyboard] = {}
        ready: list[Ready] = []
        for row in go:
            if row.id not in marked:
                continue  # the claim was lost (a replica's recovery took it back)
            event = events[row.event_id]
            assert event is not None
            text = texts.get((row.event_id, row.kind, row.lang))
            if text is None:
                text = texts[row.event_id, row.kind, row.lang] = reminder_text(event, row.kind, row.lang, now)
            keyboard = buttons.get((row.event_id, row.lang))
            if keyboard is None:
                keyboard = buttons[row.event_id, row.lang] = reminder_keyboard(self.key(row.event_id), row.lang)
            ready.append((row, text, keyboard))
        return ready

    async def _fire(self, row: Reminder, text: str, keyboard: Keyboard) -> None:
        """Wait for a slot (the grid, the token's windows, any 429 pause), then send in a task."""
        await self._inflight.acquire()
        try:
            slot = await self.pacer.slot(str(row.chat_id))
        except BaseException:
            self._inflight.release()
            raise
        task = asyncio.create_task(self._send(row, text, keyboard, slot), name=f"reminder-{row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        task.add_done_callback(lambda _: slot.done())  # even if it never ran (cancelled)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._inflight.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("personal reminder task failed", exc_info=task.exception())

    def _pointless(self, row: Reminder, event: Event | None, now: datetime) -> str | None:
        if event is not None and row.kind == PostKind.CHANGED.value:  # a cancellation is news until the end
            return still_useful(CatchUp.BEFORE_END, event.start, event.end, now)
        if event is None or event.status.value != "scheduled":
            return "the event is no longer scheduled"
        step = next((s for s in self.config.campaign.steps if s.id == row.step_id), None)
        catch_up = step.catch_up if step else (
            CatchUp.WHILE_RUNNING if row.kind == PostKind.LIVE.value else CatchUp.BEFORE_START)
        return still_useful(catch_up, event.start, event.end, now)

    async def _send(self, row: Reminder, text: str, keyboard: Keyboard, slot: Slot) -> None:
        blocked: int | None = None
        try:
            message_id = await self.courier.send(row, text, keyboard, slot, paid=self.paid)
        except PublishError as exc:
            settled, blocked = self._failure(row, exc)
        else:
            self.sent += 1
            settled = Settled(row_id=row.id, state=ReminderState.SENT, message_id=message_id)
        finally:
            slot.done()
        self._outcomes += 1
        self._receipts.add([settled], blocked)

    def _record(self, settled: list[Settled], blocked: list[int]) -> None:
        self.queue.settle(self.worker, settled)
        self._deactivate(blocked)

    def _deactivate(self, people: list[int]) -> None:
        self.chats.deactivate(people, messenger=self.messenger)

    def _failure(self, row: Reminder, exc: PublishError) -> tuple[Settled, int | None]:
        """What a failed send means for the row (and a person to stop writing to): a request that never left is
        tried again, one that may have arrived is unknown, never sent twice."""
        if isinstance(exc, RateLimited):  # refused, not delivered; the whole token pauses already
            log.warning("%s asks to slow down: personal reminders pause for %g s", SPECS[self.messenger].label,
                        exc.retry_after)
            return Settled(row_id=row.id, state=ReminderState.QUEUED, error=f"rate limited ({exc.retry_after:g} s)",
                           next_attempt_at=self.clock() + timedelta(seconds=exc.retry_after)), None
        if isinstance(exc, Unreachable):  # blocked by the person, or their chat is gone: stop writing to them
            state = ReminderState.BLOCKED if exc.blocked else ReminderState.FAILED
            return Settled(row_id=row.id, state=state, error=str(exc)[:200]), row.user_id
        if isinstance(exc, OutcomeUnknown):
            return Settled(row_id=row.id, state=ReminderState.UNKNOWN, error=str(exc)), None
        if isinstance(exc, TransientError | CredentialsError):  # nothing was sent (a token refused sends nothing)
            return self._again(row, str(exc)), None
        return Settled(row_id=row.id, state=ReminderState.FAILED, error=str(exc)[:200]), None

    def _again(self, row: Reminder, why: str) -> Settled:
        """Not delivered: tried again later (back-off), or failed after MAX_ATTEMPTS."""
        if row.attempts + 1 >= MAX_ATTEMPTS:
            return Settled(row_id=row.id, state=ReminderState.FAILED, error=why)
        delay = timedelta(seconds=min(300, 5 * 2 ** row.attempts))
        return Settled(row_id=row.id, state=ReminderState.QUEUED, error=why, next_attempt_at=self.clock() + delay)


def progress_lines(queue: ReminderQueue, event_id: str | None = None) -> list[str]:
    return [p.line() for p in queue.progress(event_id)]
