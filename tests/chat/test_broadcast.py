"""Personal reminders at scale against the fake Bot API: once per person, paced, resumable, 403 and 429 handled."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from telegram import Bot

from bot.alerts import Alerts
from bot.chat.broadcast import Broadcaster, Progress, ReminderQueue, due_steps
from bot.config import AppConfig, load_config
from bot.config.live import LiveConfig
from bot.storage import Store
from bot.storage.chat import ChatStore
from bot.storage.tables import ReminderRow
from tests.chat.conftest import TOKEN
from tests.fakes.telegram import FakeTelegram

REF = "russia-dprk-treaty"
START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)  # 11:00 in Moscow


def running_clock(at: datetime) -> Callable[[], datetime]:
    """Real time, shifted so that it starts at `at`: retries and pauses pass as they would."""
    offset = datetime.now(UTC) - at
    return lambda: datetime.now(UTC) - offset


@pytest.fixture
async def tg(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, base_url=f"{fake.base_url}/bot")
    await bot.initialize()
    yield bot
    await bot.shutdown()


def people(store: Store, count: int, *, first: int = 10_000, lang: str = "en", event: str | None = None) -> list[int]:
    """`count` subscribers (to every event, or to `event`)."""
    chats = ChatStore(store.sessions)
    ids = list(range(first, first + count))
    for user_id in ids:
        chats.subscribe(user_id, user_id, lang, event)
    return ids


def broadcaster(config: AppConfig, store: Store, bot: Bot, clock: Callable[[], datetime], **kwargs: object
                ) -> Broadcaster:
    return Broadcaster(LiveConfig(config), store.sessions, bot, clock=clock, **kwargs)  # type: ignore[arg-type]


def rows(store: Store) -> list[ReminderRow]:
    with store.sessions() as session:
        return list(session.query(ReminderRow).order_by(ReminderRow.id))


async def test_due_steps_queue_once_for_the_right_people(config: AppConfig, chat_store: Store, tg: Bot) -> None:
    everyone = people(chat_store, 5)
    only_ref = people(chat_store, 3, first=20_000, lang="ru", event=REF)
    people(chat_store, 2, first=30_000, event="arctic-talks")  # another event: not reminded of this one
    ChatStore(chat_store.sessions).deactivate([everyone[0]])  # blocked the bot earlier
    sender = broadcaster(config, chat_store, tg, running_clock(START - timedelta(days=1) + timedelta(minutes=1)))
    assert await sender.sweep() == 4 + 3
    assert await sender.sweep() == 0  # once per step, however often the sweep runs
    queued = rows(chat_store)
    assert {(r.event_id, r.step_id) for r in queued} == {(REF, "reminder-1d")}
    assert sorted(r.user_id for r in queued) == sorted(everyone[1:] + only_ref)
    assert {r.lang for r in queued if r.user_id in only_ref} == {"ru"}


async def test_everyone_gets_their_reminder_once_in_their_language(
    config: AppConfig, chat_store: Store, tg: Bot, fake: FakeTelegram
) -> None:
    english = people(chat_store, 6)
    russian = people(chat_store, 4, first=20_000, lang="ru")
    seen: list[list[Progress]] = []
    sender = broadcaster(config, chat_store, tg, running_clock(START - timedelta(hours=1)), observer=seen.append)
    await sender.sweep()
    await asyncio.wait_for(sender.run(until_empty=True), 10)
    per_chat = Counter(m["chat_id"] for m in fake.messages)
    assert per_chat == Counter({str(i): 1 for i in english + russian})
    english_text = next(m["text"] for m in fake.messages if m["chat_id"] == str(english[0]))
    russian_text = next(m["text"] for m in fake.messages if m["chat_id"] == str(russian[0]))
    assert "Reminder:" in english_text and "Valdai Club to Discuss" in english_text and "in an hour" in english_text
    assert "Напоминание:" in russian_text and "через час" in russian_text
    assert 'href="https://t.me/valdaiclub"' in english_text
    markup = fake.messages[0]["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in markup] == [f"ics:{REF}", f"ev:{REF}"]
    # Both hour-before steps came due (the day-before one too): only the latest goes out.
    (progress,) = [p for p in ReminderQueue(chat_store.sessions).progress() if p.total]
    assert (progress.step_id, progress.sent, progress.total, progress.waiting) == ("reminder-1h", 10, 10, 0)
    assert seen and seen[-1][-1].sent == 10


async def test_a_crash_mid_broadcast_resumes_without_sending_anyone_twice(
    config: AppConfig, chat_store: Store, tg: Bot, fake: FakeTelegram
) -> None:
    ids = people(chat_store, 60)
    clock = running_clock(START - timedelta(hours=2))
    first = broadcaster(config, chat_store, tg, clock, rate=60.0, worker="first")
    await first.sweep()
    run = asyncio.create_task(first.run())
    assert await fake.until(lambda: len(fake.messages) >= 20)
    run.cancel()  # killed mid-send: no release, no clean-up
    await asyncio.gather(run, return_exceptions=True)
    await asyncio.gather(*first._tasks, return_exceptions=True)
    states = Counter(r.state for r in rows(chat_store))
    assert states["claimed"] > 0  # the rest of the batch was still claimed

    second = broadcaster(config, chat_store, tg, clock, rate=500.0, worker="second")
    await second.start()  # recovery: claimed rows back to the queue, rows caught mid-send -> unknown
    try:
        assert await fake.until(lambda: ReminderQueue(chat_store.sessions).open_count() == 0, timeout=10)
    finally:
        await second.stop()
    per_chat = Counter(m["chat_id"] for m in fake.messages)
    assert max(per_chat.values()) == 1  # nobody twice
    final = rows(chat_store)
    sent = {str(r.chat_id) for r in final if r.state == "sent"}
    unknown = {str(r.chat_id) for r in final if r.state == "unknown"}
    assert len(sent) + len(unknown) == len(ids)
    assert sent <= set(per_chat)  # every 'sent' is a message that arrived...
    assert set(per_chat) - sent <= unknown  # ...and a message without 'sent' was caught mid-call by the kill
    assert len(unknown) <= 2


async def test_blocked_people_become_inactive_and_get_nothing_more(
    config: AppConfig, chat_store: Store, tg: Bot, fake: FakeTelegram
) -> None:
    ids = people(chat_store, 4)
    fake.blocked.add(ids[1])
    clock_at = START - timedelta(hours=1)
    sender = broadcaster(config, chat_store, tg, running_clock(clock_at))
    await sender.sweep()
    await asyncio.wait_for(sender.run(until_empty=True), 10)
    states = {r.user_id: r.state for r in rows(chat_store)}
    assert states == {ids[0]: "sent", ids[1]: "blocked", ids[2]: "sent", ids[3]: "sent"}
    assert ChatStore(chat_store.sessions).stats().inactive == 1
    later = broadcaster(config, chat_store, tg, running_clock(START + timedelta(minutes=1)))
    await later.sweep()  # the live step: the blocked person is not queued
    await asyncio.wait_for(later.run(until_empty=True), 10)
    live = [r for r in rows(chat_store) if r.step_id == "live"]
    assert sorted(r.user_id for r in live) == [ids[0], ids[2], ids[3]]
    live_text = fake.in_chat(ids[0])[-1]["text"]
    assert "Live now:" in live_text and 'href="https://vk.com/valdaiclub"' in live_text


async def test_a_429_pauses_everyone_for_as_long_as_telegram_asks(
    config: AppConfig, chat_store: Store, tg: Bot, fake: FakeTelegram
) -> None:
    ids = people(chat_store, 5)
    fake.fail_method("sendMessage", FakeTelegram.rate_limited(1), after=2)
    sender = broadcaster(config, chat_store, tg, running_clock(START - timedelta(hours=1)))
    await sender.sweep()
    started = time.monotonic()
    await asyncio.wait_for(sender.run(until_empty=True), 10)
    assert time.monotonic() - started >= 0.9
    assert Counter(m["chat_id"] for m in fake.messages) == Counter({str(i): 1 for i in ids})
    assert len(fake.calls("sendMessage")) == 6  # five messages and the one refused
    sent_at = sorted(m["time"] for m in fake.messages)
    # Sends already in flight when the 429 came back still land; after that, nothing until the pause is over.
    assert max(b - a for a, b in pairwise(sent_at)) >= 0.9


async def test_rate_limits_hold_overall_and_per_chat(
    chat_env: dict[str, str], workdir: Path, chat_store: Store, tg: Bot, fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__PER_CHAT_INTERVAL", "0.5")
    config = load_config(workdir / "config")
    ids = people(chat_store, 50, event=REF)
    both = people(chat_store, 1, first=90_000, event="energy-forum")[0]
    ChatStore(chat_store.sessions).subscribe(both, both, "en", REF)  # two events, due at the same moment
    fake.enforce_limits, fake.global_rate, fake.chat_interval = True, 40, 0.5
    clock = running_clock(START - timedelta(hours=1))
    sender = broadcaster(config, chat_store, tg, clock, rate=40.0)
    # The energy forum's reminder comes due at the same time as the treaty's, for the person in both.
    energy = ChatStore(chat_store.sessions).event("energy-forum")
    assert energy is not None
    queue = ReminderQueue(chat_store.sessions)
    await sender.sweep()
    queue.enqueue("energy-forum", "reminder-1h", "reminder", energy.start, clock())
    started = time.monotonic()
    await asyncio.wait_for(sender.run(until_empty=True), 15)
    elapsed = time.monotonic() - started
    assert fake.limit_hits == 0  # Telegram would not have refused anything
    assert len(fake.messages) == len(ids) + 2
    assert len(fake.messages) / elapsed <= 40 * 1.05
    window = sorted(m["time"] for m in fake.messages)
    assert max(sum(1 for u in window if t <= u < t + 1.0) for t in window) <= 41
    mine = sorted(m["time"] for m in fake.in_chat(both))
    assert len(mine) == 2 and mine[1] - mine[0] >= 0.45


async def test_too_late_reminders_are_skipped_not_sent(
    config: AppConfig, chat_store: Store, tg: Bot, fake: FakeTelegram
) -> None:
    people(chat_store, 3)
    queue = ReminderQueue(chat_store.sessions)
    queue.enqueue(REF, "reminder-1h", "reminder", START - timedelta(hours=1), START - timedelta(hours=1))
    sender = broadcaster(config, chat_store, tg, running_clock(START + timedelta(minutes=5)))  # it has begun
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


async def test_a_reminder_caught_mid_send_is_reported_and_never_resent(
    config: AppConfig, chat_store: Store, tg: Bot, fake: FakeTelegram
) -> None:
    ids = people(chat_store, 3)
    clock = running_clock(START - timedelta(hours=1))
    queue = ReminderQueue(chat_store.sessions)
    assert queue.enqueue(REF, "reminder-1h", "reminder", clock(), clock()) == 3
    caught, *_ = queue.claim(clock(), "dead", 3)  # the dead sender had claimed all three...
    assert queue.sending(caught.id, "dead")  # ...and was sending the first when it died
    alerts = Alerts()
    sender = broadcaster(config, chat_store, tg, clock, alerts=alerts, worker="new")
    await sender.start()
    try:
        assert await fake.until(lambda: queue.open_count() == 0)
    finally:
        await sender.stop()
    assert sorted(int(m["chat_id"]) for m in fake.messages) == sorted(set(ids) - {caught.user_id})
    assert {r.user_id: r.state for r in rows(chat_store)}[caught.user_id] == "unknown"
    (alert,) = alerts.sent
    assert alert.startswith("1 personal reminder(s) were being sent when the bot stopped")
