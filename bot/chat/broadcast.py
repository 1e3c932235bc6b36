"""Personal reminders at scale: durable rows per (person, event, step), claimed in batches, sent at Telegram's pace.

The campaign's reminder and live steps fire here too, independently of the channel posts: a periodic sweep
finds the steps that came due (with the campaign's catch-up rules) and queues one row per subscriber with
one INSERT ... SELECT that skips rows that exist. The unique key (person, event, step) means a person never
gets the same reminder twice, even across restarts. A row is `claimed` in a batch, marked `sending` just
before its network call and `sent` after it; a crash leaves `claimed` rows (given back) and at most the
few `sending` ones (marked unknown, never re-sent). Sends go through one token bucket (30/s overall) and a
per-chat spacing (one message per second per chat); a 429 pauses everyone for as long as Telegram asks; a
403 marks the person inactive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.alerts import Alerts
from bot.chat.core import live_lines, utcnow, when_line
from bot.chat.texts import esc, t
from bot.config import AppConfig
from bot.config.live import LiveConfig
from bot.config.settings import ChatSettings
from bot.domain import CatchUp, Event, PostKind, ReminderState, Step
from bot.planning import still_useful
from bot.rendering.context import until, view
from bot.storage.chat import ChatStore
from bot.storage.reminders import Progress, Reminder, ReminderQueue

log = logging.getLogger("announce_bot.chat.broadcast")

Clock = Callable[[], datetime]
Ready = tuple[Reminder, Event, str]  # a row marked `sending`, its event and its text
MAX_ATTEMPTS = 5
HEADROOM = 0.99  # sends are spaced for 99% of the rate; Pacer's window holds the limit itself


def due_steps(event: Event, steps: Sequence[Step], kinds: Sequence[str], now: datetime
              ) -> tuple[list[Step], list[tuple[Step, str]]]:
    """The steps to send to people now, and those to record as not sent (too late, or superseded).

    When several steps of one kind are due at once (the bot was down, or the event was added late), only
    the latest is sent: a person gets one reminder, not the day-before one and the hour-before one together.
    """
    send: dict[str, Step] = {}
    drop: list[tuple[Step, str]] = []
    for step in sorted((s for s in steps if s.kind.value in kinds and s.due(event) <= now), key=lambda s: s.due(event)):
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
        lines = [t("reminder", lang, title=shown.title, until=until(left, lang), when=when_line(shown, lang),
                   venue=", ".join(p for p in (shown.venue, shown.address) if p))]
    links = live_lines(shown)
    if links:
        lines += ["", f"📺 <b>{esc(t('live_links', lang))}</b>", *links]
    lines += ["", f"<i>{t('reminder_footer', lang)}</i>"]
    return "\n".join(lines)


def reminder_keyboard(event_key: str, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(t("btn_calendar", lang), callback_data=f"ics:{event_key}"),
        InlineKeyboardButton(t("btn_back", lang), callback_data=f"ev:{event_key}"),
    ]])


class Pacer:
    """At most `limit` messages reach Telegram in any second, evenly spaced at `rate` (a little below it).

    Sends are spaced on a fixed grid, so the time a sleep overshoots is not lost (a token bucket with a
    burst of 1 loses it: 30/s sags to 28/s), and a send that came late is made up for by the next ones, up
    to three intervals of lag (after an idle spell nothing is saved up). The hard limit holds whatever the
    event loop's or the network's jitter: a send may start only a second after the send `limit` places
    before it *finished* (its answer came back), and that one cannot have arrived any later.
    """

    def __init__(self, rate: float, limit: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._finished: deque[asyncio.Future[float]] = deque(maxlen=max(1, int(limit if limit is not None else rate)))
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> asyncio.Future[float]:
        """Wait for the next slot; the caller passes the returned ticket to `done()` when its send is over."""
        async with self._lock:
            now = self._clock()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            elif now - self._next > 3 * self.interval:  # idle, or far behind: a new grid, no burst
                self._next = now
            self._next += self.interval
            if len(self._finished) == self._finished.maxlen:
                finished = await asyncio.shield(self._finished[0])
                if (wait := finished + 1.0 - self._clock()) > 0:
                    await asyncio.sleep(wait)
            ticket: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self._finished.append(ticket)
            return ticket

    def done(self, ticket: asyncio.Future[float]) -> None:
        if not ticket.done():
            ticket.set_result(self._clock())


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Broadcaster:
    """Queues due reminders and sends them: `start()` runs the sweep and the sender until `stop()`."""

    def __init__(
        self,
        live: LiveConfig,
        sessions: sessionmaker[Session],
        bot: Bot,
        *,
        chats: ChatStore | None = None,
        alerts: Alerts | None = None,
        clock: Clock = utcnow,
        worker: str | None = None,
        key: Callable[[str], str] = lambda event_id: event_id,
        observer: Callable[[list[Progress]], None] | None = None,
        rate: float | None = None,
    ) -> None:
        self.live = live
        self.queue = ReminderQueue(sessions)
        self.chats = chats or ChatStore(sessions)
        self.bot = bot
        self.alerts = alerts
        self.clock = clock
        self.worker = worker or f"chat:{uuid.uuid4().hex[:12]}"  # unique per process: claims say whose they are
        self.key = key
        self.observer = observer
        limit = rate or self.settings.broadcast_rate
        self.pacer = Pacer(limit * HEADROOM, limit)
        self._chat_free: dict[int, float] = {}  # chat id -> monotonic time it may get its next message
        self._paused_until = 0.0
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._inflight = asyncio.Semaphore(64)
        self.sent = 0
        self._outcomes = 0  # rows settled so far (sent, failed, requeued...), so idle loops report nothing
        self._reported = -1

    @property
    def config(self) -> AppConfig:
        return self.live.current

    @property
    def settings(self) -> ChatSettings:
        return self.config.settings.chat

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        delivery = self.config.settings.delivery
        older = self.clock() - timedelta(seconds=delivery.claim_lease) if delivery.shared_database else None
        back, unknown = await asyncio.to_thread(self.queue.recover, older)
        if unknown:
            message = (f"{unknown} personal reminder(s) were being sent when the bot stopped: they may or may not "
                       "have arrived, and are not sent again (no one gets a reminder twice)")
            if self.alerts is not None:
                await self.alerts(message)
            else:
                log.warning("%s", message)
        if back:
            log.info("%d claimed personal reminders given back to the queue", back)
        self._loops = [asyncio.create_task(self._sweep_loop(), name="reminder-sweep"),
                       asyncio.create_task(self.run(), name="reminder-sender")]

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    async def _sweep_loop(self) -> None:
        while not self._stopping:
            try:
                await self.sweep()
            except Exception:
                log.exception("could not queue the due personal reminders")
            await asyncio.sleep(self.settings.reminder_sweep)

    # -- queueing ---------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Queue every reminder step that came due; returns how many people were queued."""
        return await asyncio.to_thread(self._sweep, self.clock())

    def _sweep(self, now: datetime) -> int:
        queued = 0
        for event_id in self.queue.live_event_ids(now):
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
        last_report = 0.0
        while not self._stopping:
            batch = await asyncio.to_thread(self.queue.claim, self.clock(), self.worker, self.settings.broadcast_batch)
            if not batch:
                if self._tasks:
                    await asyncio.gather(*set(self._tasks), return_exceptions=True)
                    continue
                await self._report()
                if until_empty and not await asyncio.to_thread(self.queue.open_count):
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5 if until_empty else 1.0)
                continue
            events: dict[str, Event | None] = {}
            ready: Ready | None = None
            for index, row in enumerate(batch):
                if self._stopping:
                    await asyncio.to_thread(self.queue.release, batch[index:], self.worker)
                    break
                # The next row is checked and marked while the current one waits for its slot.
                preparing = asyncio.create_task(self._prepare(row, events))
                if ready is not None:
                    await self._fire(*ready)
                ready = await preparing
                if time.monotonic() - last_report > 1.0:
                    last_report = time.monotonic()
                    await self._report()
            if ready is not None:
                await self._fire(*ready)

    async def _report(self, force: bool = False) -> None:
        """Tell the observer (the console's progress bar) how far the broadcasts are, when something moved."""
        if self.observer is None or (self._reported == self._outcomes and not force):
            return
        self._reported = self._outcomes
        self.observer(await asyncio.to_thread(self.queue.progress))

    async def _prepare(self, row: Reminder, events: dict[str, Event | None]) -> Ready | None:
        """Checks (the event, the campaign, the chat's pace), then the row marked `sending` and its text."""
        if row.event_id not in events:
            events[row.event_id] = await asyncio.to_thread(self.chats.event, row.event_id)
        event = events[row.event_id]
        now = self.clock()
        reason = self._pointless(row, event, now)
        if reason is not None:
            await asyncio.to_thread(self.queue.finish, row.id, self.worker, ReminderState.SKIPPED, error=reason,
                                    source=ReminderState.CLAIMED)
            return None
        assert event is not None
        busy = self._chat_free.get(row.chat_id, 0.0) - time.monotonic()
        if busy > 0:  # this chat got a message less than a second ago: later, without holding up the others
            await asyncio.to_thread(self.queue.requeue, row.id, self.worker, now + timedelta(seconds=busy), None,
                                    ReminderState.CLAIMED)
            return None
        # The chat is booked from now: its send is at most two slots away, so the booking covers those too.
        self._chat_free[row.chat_id] = time.monotonic() + self.settings.per_chat_interval + 2 * self.pacer.interval
        # Marked before its slot, so that the send leaves right at the slot: a DB write between the slot and
        # the network would jitter the arrivals. A crash leaves at most two rows `sending` (reported unknown).
        if not await asyncio.to_thread(self.queue.sending, row.id, self.worker):
            return None  # the claim was lost (a replica's recovery took it back)
        return row, event, reminder_text(event, row.kind, row.lang, now)

    async def _fire(self, row: Reminder, event: Event, text: str) -> None:
        """Wait for a slot (and for any 429 pause), then send in a task."""
        await self._inflight.acquire()
        while (pause := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(pause)
        ticket = await self.pacer.wait()
        task = asyncio.create_task(self._send(row, event, text), name=f"reminder-{row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        task.add_done_callback(lambda _: self.pacer.done(ticket))  # even if it never ran (cancelled)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._outcomes += 1
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

    async def _send(self, row: Reminder, event: Event, text: str) -> None:
        queue, worker = self.queue, self.worker
        try:
            message = await self.bot.send_message(
                chat_id=row.chat_id, text=text, parse_mode=ParseMode.HTML,
                reply_markup=reminder_keyboard(self.key(event.id), row.lang),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except RetryAfter as exc:
            wait = _retry_after(exc)
            self._paused_until = max(self._paused_until, time.monotonic() + wait)
            log.warning("Telegram asks to slow down: personal reminders pause for %g s", wait)
            await asyncio.to_thread(queue.requeue, row.id, worker, self.clock() + timedelta(seconds=wait),
                                    f"rate limited ({wait:g} s)")
            return
        except Forbidden as exc:  # blocked by the person, or deactivated: stop writing to them
            await asyncio.to_thread(queue.finish, row.id, worker, ReminderState.BLOCKED, error=exc.message[:200])
            await asyncio.to_thread(self.chats.deactivate, [row.user_id])
            return
        except ChatMigrated as exc:
            await asyncio.to_thread(queue.finish, row.id, worker, ReminderState.FAILED,
                                    error=f"the group moved to chat {exc.new_chat_id}")
            return
        except BadRequest as exc:
            await asyncio.to_thread(queue.finish, row.id, worker, ReminderState.FAILED, error=exc.message[:200])
            if "chat not found" in exc.message.lower():
                await asyncio.to_thread(self.chats.deactivate, [row.user_id])
            return
        except TimedOut:  # it may have arrived: a second copy is worse than a missing one
            await asyncio.to_thread(queue.finish, row.id, worker, ReminderState.UNKNOWN,
                                    error="Telegram did not answer in time")
            return
        except (NetworkError, TelegramError) as exc:
            if row.attempts + 1 >= MAX_ATTEMPTS:
                await asyncio.to_thread(queue.finish, row.id, worker, ReminderState.FAILED, error=exc.message[:200])
            else:
                delay = timedelta(seconds=min(300, 5 * 2 ** row.attempts))
                await asyncio.to_thread(queue.requeue, row.id, worker, self.clock() + delay, exc.message[:200])
            return
        await asyncio.to_thread(queue.finish, row.id, worker, ReminderState.SENT, message_id=message.message_id)
        self.sent += 1


def progress_lines(sessions: sessionmaker[Session], event_id: str | None = None) -> list[str]:
    return [p.line() for p in ReminderQueue(sessions).progress(event_id)]


class ConsoleProgress:
    """A progress bar per broadcast in the console while personal reminders go out (`run`'s observer)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bars: RichProgress | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, items: list[Progress]) -> None:
        active = [p for p in items if p.waiting]
        if self._bars is None:
            if not active:
                return
            self._bars = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[note]}"), TimeRemainingColumn(),
                                      console=self.console)
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
