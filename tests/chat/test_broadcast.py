"""Personal reminders at scale against the fake Bot API: once per person, paced, resumable, 403 and 429 handled,
one error rule for what may have arrived. Time is virtual (tests/virtual_time.py): the fake stamps arrivals
with the same clock, so pacing is asserted exactly, whatever the machine's load."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.alerts import Alerts
from bot.chat.broadcast import Broadcaster, Progress, ReminderQueue, due_steps
from bot.chat.limiter import SharedRateLimiter
from bot.chat.telegram import TelegramCourier
from bot.config import AppConfig, load_config
from bot.config.live import LiveConfig
from bot.domain import Platform
from bot.ratelimit import RateLimits, TokenLimits
from bot.storage import Store
from bot.storage.chat import ChatStore
from bot.storage.tables import ReminderRow
from tests.chat.conftest import TOKEN
from tests.fakes.telegram import FakeTelegram
from tests.virtual_time import VirtualTime

REF = "russia-dprk-treaty"
START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)  # 11:00 in Moscow


@pytest.fixture
def vt(fake: FakeTelegram) -> Iterator[VirtualTime]:
    """Virtual time starting an hour before the reference event; the fake stamps arrivals with it."""
    time = VirtualTime(START - timedelta(hours=1))
    fake.clock = time.monotonic
    yield time


def token_limits(vt: VirtualTime) -> TokenLimits:
    """Telegram's declared limits for the bot's token, on virtual time (a fresh process has fresh ones)."""
    return RateLimits(clock=vt.monotonic, sleep=vt.sleep).for_token(Platform.TELEGRAM, TOKEN)


@pytest.fixture
def limits(vt: VirtualTime) -> TokenLimits:
    return token_limits(vt)


async def ext_bot(base_url: str, limits: TokenLimits, **timeouts: float) -> ExtBot[Any]:
    """The bot as the chat Application builds it: every request through the token's shared limits."""
    bot: ExtBot[Any] = ExtBot(TOKEN, base_url=f"{base_url}/bot", rate_limiter=SharedRateLimiter(limits),
                              request=HTTPXRequest(**timeouts) if timeouts else None)
    await bot.initialize()
    return bot


@pytest.fixture
async def tg(fake: FakeTelegram, limits: TokenLimits) -> AsyncIterator[ExtBot[Any]]:
    bot = await ext_bot(fake.base_url, limits)
    yield bot
    await bot.shutdown()


def people(store: Store, count: int, *, first: int = 10_000, lang: str = "en", event: str | None = None) -> list[int]:
    """`count` subscribers (to every event, or to `event`)."""
    chats = ChatStore(store.sessions)
    ids = list(range(first, first + count))
    for user_id in ids:
        chats.subscribe(user_id, user_id, lang, event)
    return ids


def broadcaster(config: AppConfig, store: Store, bot: ExtBot[Any], vt: VirtualTime, limits: TokenLimits,
                **kwargs: Any) -> Broadcaster:
    sender = Broadcaster(LiveConfig(config), ReminderQueue(store.sessions), TelegramCourier(bot), limits,
                         chats=ChatStore(store.sessions), clock=vt.utc, **kwargs)

    def quiet() -> bool:
        # Virtual time waits for the sends in flight and their receipts: what the receipts' short timer would
        # write in real time is written before time moves on.
        sender.write_receipts()
        return not sender.busy

    vt.quiet = quiet
    return sender


async def broadcast(sender: Broadcaster) -> None:
    await sender.sweep()
    await asyncio.wait_for(sender.run(until_empty=True), 30)


def rows(store: Store) -> list[ReminderRow]:
    with store.sessions() as session:
        return list(session.query(ReminderRow).order_by(ReminderRow.id))


def busiest(moments: list[float], period: float = 1.0) -> int:
    """The most moments in any half-open interval of `period` seconds."""
    return max(sum(1 for m in moments if t <= m < t + period) for t in moments)


async def test_due_steps_queue_once_for_the_right_people(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], vt: VirtualTime, limits: TokenLimits
) -> None:
    everyone = people(chat_store, 5)
    only_ref = people(chat_store, 3, first=20_000, lang="ru", event=REF)
    people(chat_store, 2, first=30_000, event="arctic-talks")  # another event: not reminded of this one
    ChatStore(chat_store.sessions).deactivate([everyone[0]])  # blocked the bot earlier
    vt.start = START - timedelta(days=1) + timedelta(minutes=1)
    sender = broadcaster(config, chat_store, tg, vt, limits)
    assert await sender.sweep() == 4 + 3
    assert await sender.sweep() == 0  # once per step, however often the sweep runs
    queued = rows(chat_store)
    assert {(r.event_id, r.step_id) for r in queued} == {(REF, "reminder-1d")}
    assert sorted(r.user_id for r in queued) == sorted(everyone[1:] + only_ref)
    assert {r.lang for r in queued if r.user_id in only_ref} == {"ru"}


async def test_everyone_gets_their_reminder_once_in_their_language(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    english = people(chat_store, 6)
    russian = people(chat_store, 4, first=20_000, lang="ru")
    seen: list[list[Progress]] = []
    await broadcast(broadcaster(config, chat_store, tg, vt, limits, observer=seen.append))
    per_chat = Counter(m["chat_id"] for m in fake.messages)
    assert per_chat == Counter({str(i): 1 for i in english + russian})
    english_text = next(m["text"] for m in fake.messages if m["chat_id"] == str(english[0]))
    russian_text = next(m["text"] for m in fake.messages if m["chat_id"] == str(russian[0]))
    assert "Reminder:" in english_text and "Valdai Club to Discuss" in english_text and "in an hour" in english_text
    assert "Напоминание:" in russian_text and "через час" in russian_text
    assert 'href="https://t.me/valdaiclub"' in english_text
    markup = fake.messages[0]["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in markup] == [f"ics:{REF}", f"ev:{REF}"]
    assert all("allow_paid_broadcast" not in r.params for r in fake.calls("sendMessage"))  # not paid by default
    # Both hour-before steps came due (the day-before one too): only the latest goes out.
    (progress,) = [p for p in ReminderQueue(chat_store.sessions).progress() if p.total]
    assert (progress.step_id, progress.sent, progress.total, progress.waiting) == ("reminder-1h", 10, 10, 0)
    assert seen and seen[-1][-1].sent == 10


async def test_a_crash_mid_broadcast_resumes_without_sending_anyone_twice(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    ids = people(chat_store, 60)
    vt.start = START - timedelta(hours=2)
    first = broadcaster(config, chat_store, tg, vt, limits, rate=20.0, worker="first")
    await first.start()  # the sweep, recovery (nothing to recover) and the sender
    assert await fake.until(lambda: len(fake.messages) >= 20)
    first.crash()  # killed mid-send: no release, no clean-up
    await asyncio.gather(*first._loops, *first._tasks, return_exceptions=True)
    await asyncio.sleep(0.2)  # a write already in its thread may still land, as it would have before the kill
    states = Counter(r.state for r in rows(chat_store))
    assert states["claimed"] > 0  # the rest of the batch was still claimed
    caught = states["sending"]

    restarted = token_limits(vt)  # a new process: it knows nothing of the old one's last second
    second = await ext_bot(fake.base_url, restarted)
    try:
        sender = broadcaster(config, chat_store, second, vt, restarted, worker="second")
        await sender.recover()  # claimed rows back to the queue, rows caught mid-send -> unknown
        await asyncio.wait_for(sender.run(until_empty=True), 30)
    finally:
        await second.shutdown()
    per_chat = Counter(m["chat_id"] for m in fake.messages)
    assert max(per_chat.values()) == 1  # nobody twice
    final = rows(chat_store)
    sent = {str(r.chat_id) for r in final if r.state == "sent"}
    unknown = {str(r.chat_id) for r in final if r.state == "unknown"}
    assert len(sent) + len(unknown) == len(ids)
    assert sent <= set(per_chat)  # every 'sent' is a message that arrived...
    assert set(per_chat) - sent <= unknown  # ...and a message without 'sent' was caught mid-call by the kill
    # At 20/s a group is one row: the send in flight (its receipt unwritten) and the two rows marked ahead.
    assert len(unknown) == caught <= 3


async def test_blocked_people_become_inactive_and_get_nothing_more(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    ids = people(chat_store, 4)
    fake.blocked.add(ids[1])
    await broadcast(broadcaster(config, chat_store, tg, vt, limits))
    states = {r.user_id: r.state for r in rows(chat_store)}
    assert states == {ids[0]: "sent", ids[1]: "blocked", ids[2]: "sent", ids[3]: "sent"}
    assert ChatStore(chat_store.sessions).stats().inactive == 1
    vt.start = START + timedelta(minutes=1) - timedelta(seconds=vt.now)
    await broadcast(broadcaster(config, chat_store, tg, vt, limits))  # the live step: the blocked person is not queued
    live = [r for r in rows(chat_store) if r.step_id == "live"]
    assert sorted(r.user_id for r in live) == [ids[0], ids[2], ids[3]]
    live_text = fake.in_chat(ids[0])[-1]["text"]
    assert "Live now:" in live_text and 'href="https://vk.com/valdaiclub"' in live_text


async def test_a_429_pauses_everyone_for_as_long_as_telegram_asks(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    ids = people(chat_store, 5)
    fake.fail_method("sendMessage", FakeTelegram.rate_limited(3), after=2)
    await broadcast(broadcaster(config, chat_store, tg, vt, limits))
    assert Counter(m["chat_id"] for m in fake.messages) == Counter({str(i): 1 for i in ids})
    calls = fake.calls("sendMessage")
    assert len(calls) == 6  # five messages and the one refused
    arrived = sorted(m["time"] for m in fake.messages)
    # Two went out, the third was refused at once: nothing more until Telegram's 3 s were over.
    assert arrived[2] - arrived[1] >= 3.0
    assert all(b - a < 1.0 for a, b in pairwise(arrived[2:]))


async def test_rate_limits_hold_overall_and_per_chat(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    ids = people(chat_store, 80, event=REF)
    both = people(chat_store, 1, first=90_000, event="energy-forum")[0]
    ChatStore(chat_store.sessions).subscribe(both, both, "en", REF)  # two events, due at the same moment
    fake.enforce_limits, fake.global_rate, fake.chat_interval = True, 30, 1.0  # Telegram's free limits
    sender = broadcaster(config, chat_store, tg, vt, limits)  # [chat] broadcast_rate = 500: held to Telegram's 30/s
    assert sender.rate == 30
    energy = ChatStore(chat_store.sessions).event("energy-forum")
    assert energy is not None
    await sender.sweep()
    # The energy forum's reminder comes due at the same time as the treaty's, for the person in both.
    ReminderQueue(chat_store.sessions).enqueue("energy-forum", "reminder-1h", "reminder", energy.start, vt.utc())
    await asyncio.wait_for(sender.run(until_empty=True), 30)
    assert fake.limit_hits == 0  # Telegram would not have refused anything
    assert len(fake.messages) == len(ids) + 2
    arrived = sorted(m["time"] for m in fake.messages)
    assert busiest(arrived) <= 30
    batch = arrived[:-1]  # the last is the second reminder of the person in both, put off for a second
    rate = (len(batch) - 1) / (batch[-1] - batch[0])
    assert rate == pytest.approx(30 * 0.99, rel=0.01)  # evenly at 99% of the limit, no sag
    mine = sorted(m["time"] for m in fake.in_chat(both))
    assert len(mine) == 2 and mine[1] - mine[0] >= 1.0  # one message a second in a private chat


async def test_paid_broadcasts_go_past_the_free_30_a_second(
    chat_env: dict[str, str], workdir: Path, chat_store: Store, fake: FakeTelegram, vt: VirtualTime,
    limits: TokenLimits, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__PAID_BROADCAST", "true")
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__BROADCAST_RATE", "1000")
    config = load_config(workdir / "config")
    people(chat_store, 300)
    fake.enforce_limits, fake.global_rate, fake.chat_interval = True, 30, 1.0
    bot = await ext_bot(fake.base_url, limits)
    try:
        sender = broadcaster(config, chat_store, bot, vt, limits)
        assert sender.rate == 1000
        await broadcast(sender)
        # Channel posts of the same token meanwhile still have Telegram's free 30 a second to themselves.
        before = vt.now
        for channel in range(30):
            await limits.acquire(f"@channel{channel}")
        assert vt.now == before
    finally:
        await bot.shutdown()
    assert fake.limit_hits == 0 and len(fake.messages) == 300
    assert all(r.params.get("allow_paid_broadcast") == "true" for r in fake.calls("sendMessage"))
    arrived = sorted(m["time"] for m in fake.messages)
    assert arrived[-1] - arrived[0] == pytest.approx(299 / (1000 * 0.99), rel=0.01)  # 300 in a third of a second


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_one_error_rule_a_request_that_never_left_is_retried_one_that_may_have_arrived_is_not(
    config: AppConfig, chat_store: Store, fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    ids = people(chat_store, 4)
    fake.fail_method("sendMessage", FakeTelegram.dropped())  # the connection drops once the request is in
    fake.fail_method("sendMessage", FakeTelegram.slow(2.0))  # no answer within the read timeout
    fake.fail_method("sendMessage", FakeTelegram.server_error())  # Telegram answered 500: nothing was sent
    bot = await ext_bot(fake.base_url, limits, read_timeout=0.5)
    try:
        await broadcast(broadcaster(config, chat_store, bot, vt, limits))
    finally:
        await bot.shutdown()
    states = {r.user_id: (r.state, r.attempts, r.error or "") for r in rows(chat_store)}
    assert [s[:2] for s in states.values()] == [("unknown", 1), ("unknown", 1), ("sent", 2), ("sent", 1)]
    assert "may or may not have arrived" in states[ids[0]][2] and "closed without an answer" in states[ids[0]][2]
    assert "no answer in time" in states[ids[1]][2]
    # The late answer's message did arrive (unknown was right not to send it again); the 500 one went again, once.
    assert len(fake.calls("sendMessage")) == 5
    assert sorted(int(m["chat_id"]) for m in fake.messages) == ids[1:]

    # Telegram out of reach: nothing left, so it is tried again (with back-off) and given up after five attempts.
    nowhere = RateLimits(clock=vt.monotonic, sleep=vt.sleep).for_token(Platform.TELEGRAM, TOKEN)
    away: ExtBot[Any] = ExtBot(TOKEN, base_url=f"http://127.0.0.1:{closed_port()}/bot",
                               rate_limiter=SharedRateLimiter(nowhere))
    sender = broadcaster(config, chat_store, away, vt, nowhere)
    queue = ReminderQueue(chat_store.sessions)
    queue.enqueue(REF, "reminder-1h-again", "reminder", vt.utc(), vt.utc())
    started = vt.now
    await asyncio.wait_for(sender.run(until_empty=True), 30)
    again = [r for r in rows(chat_store) if r.step_id == "reminder-1h-again"]
    assert [(r.state, r.attempts) for r in again] == [("failed", 5)] * len(ids)
    assert all("cannot reach Telegram" in (r.error or "") and "nothing was sent" in (r.error or "") for r in again)
    assert vt.now - started >= 5 + 10 + 20 + 40  # the back-off between the attempts
    assert len(fake.messages) == 3


async def test_too_late_reminders_are_skipped_not_sent(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    people(chat_store, 3)
    queue = ReminderQueue(chat_store.sessions)
    queue.enqueue(REF, "reminder-1h", "reminder", START - timedelta(hours=1), START - timedelta(hours=1))
    vt.start = START + timedelta(minutes=5)  # it has begun
    sender = broadcaster(config, chat_store, tg, vt, limits)
    await asyncio.wait_for(sender.run(until_empty=True), 10)
    assert fake.messages == []
    assert {r.state for r in rows(chat_store)} == {"skipped"}


def test_due_steps_send_the_latest_and_record_the_rest(config: AppConfig, chat_store: Store) -> None:
    event = ChatStore(chat_store.sessions).event(REF)
    assert event is not None
    steps = config.campaign.steps
    send, drop = due_steps(event, steps, ("reminder", "live"), START - timedelta(minutes=30))
    assert [s.id for s in send] == ["reminder-1h"]
    assert [(s.id, why) for s, why in drop] == [("reminder-1d", "superseded by reminder-1h")]
    send, drop = due_steps(event, steps, ("reminder", "live"), START + timedelta(minutes=30))
    assert [s.id for s in send] == ["live"]
    assert {s.id for s, _ in drop} == {"reminder-1d", "reminder-1h"}
    assert all(why.startswith("too late") for _, why in drop)
    assert due_steps(event, steps, ("reminder", "live"), START - timedelta(days=3)) == ([], [])


async def test_stopping_gives_unsent_rows_back_and_sends_them_after_a_restart(
    config: AppConfig, chat_store: Store, tg: ExtBot[Any], fake: FakeTelegram, vt: VirtualTime, limits: TokenLimits
) -> None:
    ids = people(chat_store, 40)
    sender = broadcaster(config, chat_store, tg, vt, limits, rate=10.0)
    await sender.sweep()
    run = asyncio.create_task(sender.run())
    assert await fake.until(lambda: len(fake.messages) >= 5)
    sender._loops = [run]
    await sender.stop()
    states = Counter(r.state for r in rows(chat_store))
    assert states["sending"] == 0 and states["unknown"] == 0  # a clean stop leaves nothing uncertain
    assert states["sent"] == len(fake.messages) and states["queued"] == len(ids) - states["sent"]
    assert all(r.attempts == 0 for r in rows(chat_store) if r.state == "queued")  # never tried: not counted
    again = broadcaster(config, chat_store, tg, vt, limits)
    await again.recover()
    await asyncio.wait_for(again.run(until_empty=True), 30)
    assert Counter(m["chat_id"] for m in fake.messages) == Counter({str(i): 1 for i in ids})


async def test_stopping_during_a_long_429_pause_gives_every_unsent_row_back(
    config: AppConfig, chat_store: Store, fake: FakeTelegram
) -> None:
    # Real time: the pause really holds the sender, and stop() has to cancel it after its grace.
    ids = people(chat_store, 30)
    fake.fail_method("sendMessage", FakeTelegram.rate_limited(600), after=3)
    limits = RateLimits().for_token(Platform.TELEGRAM, TOKEN)
    bot = await ext_bot(fake.base_url, limits)
    offset = datetime.now(UTC) - (START - timedelta(hours=1))
    sender = Broadcaster(LiveConfig(config), ReminderQueue(chat_store.sessions), TelegramCourier(bot), limits,
                         chats=ChatStore(chat_store.sessions),
                         clock=lambda: datetime.now(UTC) - offset)
    try:
        await sender.start()
        # Stopped once the 429 has been read (the pause is set), not merely answered: on a busy machine its answer
        # could still be on its way when stop() came, and that row would then be one whose outcome is unknown.
        assert await fake.until(lambda: len(fake.calls("sendMessage")) >= 4 and limits.paused > 0)
        await sender.stop()
    finally:
        await bot.shutdown()
    states = Counter(r.state for r in rows(chat_store))
    assert states == {"sent": 3, "queued": len(ids) - 3}  # the refused one waits for its retry; none unknown
    assert limits.paused > 500


async def test_a_reminder_caught_mid_send_is_reported_and_never_resent(
    config: AppConfig, chat_store: Store, fake: FakeTelegram
) -> None:
    # Real time here: start() runs the sweep and the sender as `run` does.
    ids = people(chat_store, 3)
    offset = datetime.now(UTC) - (START - timedelta(hours=1))

    def clock() -> datetime:
        return datetime.now(UTC) - offset

    queue = ReminderQueue(chat_store.sessions)
    assert queue.enqueue(REF, "reminder-1h", "reminder", clock(), clock()) == 3
    caught, *_ = queue.claim(clock(), "dead", 3)  # the dead sender had claimed all three...
    assert queue.sending(caught.id, "dead")  # ...and was sending the first when it died
    alerts = Alerts()
    limits = RateLimits().for_token(Platform.TELEGRAM, TOKEN)
    bot = await ext_bot(fake.base_url, limits)
    sender = Broadcaster(LiveConfig(config), ReminderQueue(chat_store.sessions), TelegramCourier(bot), limits,
                         chats=ChatStore(chat_store.sessions), clock=clock,
                         alerts=alerts, worker="new")
    await sender.start()
    try:
        assert await fake.until(lambda: queue.open_count() == 0)
    finally:
        await sender.stop()
        await bot.shutdown()
    assert sorted(int(m["chat_id"]) for m in fake.messages) == sorted(set(ids) - {caught.user_id})
    assert {r.user_id: r.state for r in rows(chat_store)}[caught.user_id] == "unknown"
    (alert,) = alerts.sent
    assert alert.startswith("1 personal reminder(s) were being sent when the bot stopped")
