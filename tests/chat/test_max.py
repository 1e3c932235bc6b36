"""The subscriber bot on MAX, against the fake MAX Bot API: the same features as on Telegram, through long polling,
presses answered with POST /answers, the calendar as an uploaded file, and personal reminders at their time
(the injected clock) by the MAX bot, MAX's people kept apart from Telegram's."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest

from bot.chat.max import MaxChat, max_chat
from bot.config import AppConfig, load_config
from bot.delivery import Publisher
from bot.domain import Platform
from bot.platforms import markup_units
from bot.ratelimit import RateLimits
from bot.runtime import Runtime, Service
from bot.storage import Store
from bot.storage.chat import ChatStore
from bot.storage.reminders import ReminderQueue
from bot.storage.tables import ReminderRow
from tests.chat.conftest import Clock
from tests.chat.test_cli_chat import Lines
from tests.fakes.base import Reply, record_then_drop
from tests.fakes.max import FakeMax, Sent

TOKEN = "max-chat-bot-token-SECRET-1234567890"
REF = "russia-dprk-treaty"
START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)  # 11:00 in Moscow
ANNA, IVAN, OLGA = 70001, 70002, 70099  # MAX's user ids (Olga organises)


@pytest.fixture
def max_fake(chat_env: dict[str, str], workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMax]:
    """The fake MAX, a MAX target in the settings, and the bot pointed at the fake by the environment only."""
    with FakeMax(TOKEN) as server:
        assert isinstance(server, FakeMax)
        with (workdir / "config" / "settings.toml").open("a", encoding="utf-8") as settings:
            settings.write(f'\n[targets.max]\nplatform = "max"\nlang = "ru"\nchat_id = "{server.channel_id}"\n')
        monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__TOKEN", TOKEN)
        monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__API_BASE_URL", server.base_url)
        monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MAX__TIMEOUT", "3")
        monkeypatch.setenv("ANNOUNCE_BOT_ADMIN__MAX_USER_IDS", f"[{OLGA}]")
        yield server


@pytest.fixture
def config(max_fake: FakeMax, workdir: Path) -> AppConfig:
    return load_config(workdir / "config")


@pytest.fixture
async def bot(runtime: Runtime, chat_store: Store, clock: Clock) -> AsyncIterator[MaxChat]:
    """The MAX chat bot polling the fake, on the tests' clock."""
    chat = max_chat(runtime.live, runtime.operations, clock=clock, poll_timeout=1)
    await chat.start()
    yield chat
    await chat.stop()
    await runtime.aclose()


async def until(fake: FakeMax, ready: Any, timeout: float = 5.0) -> None:
    """Wait for `ready()` in a thread (the fake is told of every request), so the bot's loop keeps running."""
    await asyncio.to_thread(fake.wait_for, ready, timeout)


async def say(fake: FakeMax, user: int, text: str, count: int = 1, locale: str = "en") -> list[Sent]:
    """`user` writes `text`; the bot's next `count` messages to them."""
    since = len(fake.sent_to(user))
    fake.user_writes(user, text, locale=locale)
    await until(fake, lambda: len(fake.sent_to(user)) >= since + count)
    return fake.sent_to(user)[since:]


async def press(fake: FakeMax, user: int, message: Sent, payload: str, *, count: int = 0,
                locale: str = "en") -> dict[str, Any]:
    """`user` presses a button; the bot's answer (POST /answers), after `count` new messages if any."""
    since, answered = len(fake.sent_to(user)), len(fake.answers)
    callback = fake.user_presses(user, message, payload, locale=locale)
    await until(fake, lambda: len(fake.answers) > answered and len(fake.sent_to(user)) >= since + count)
    return next(body for cid, body in fake.answers if cid == callback)


def buttons(message: Sent) -> dict[str, str]:
    return {b["text"]: b.get("payload") or b.get("url", "") for row in message.buttons for b in row}


async def test_start_next_subscribe_and_the_reminder_comes_at_its_time(
    fake: Any, max_fake: FakeMax, bot: MaxChat, clock: Clock, chat_store: Store
) -> None:
    max_fake.user_starts(ANNA)  # the Start button: a bot_started update
    await until(max_fake, lambda: len(max_fake.sent_to(ANNA)) == 1)
    (hello,) = max_fake.sent_to(ANNA)
    assert hello.text.startswith("Hello, Anna!") and "/next" in hello.text and hello.format == "html"
    assert buttons(hello) == {"✓ English": "lang:en", "Русский": "lang:ru"}
    assert max_fake.commands[1] == {"name": "events", "description": "Ближайшие мероприятия"}  # the target's ru

    (card,) = await say(max_fake, ANNA, "/next")
    assert card.text.startswith("Valdai Club to Discuss Russia-North Korea Treaty")
    assert "Moderator: Ivan Timofeev" in card.text and not card.stripped  # only tags MAX knows
    assert {"type": "link", "from": card.text.index("VK"), "length": 2, "url": "https://vk.com/valdaiclub"} \
        in card.markup
    assert markup_units(card.source) <= 4000
    assert buttons(card) == {"🎤 Speakers": f"sp:{REF}", "📺 Live links": f"lv:{REF}",
                             "📅 Add to calendar": f"ics:{REF}", "🔔 Remind me": f"sub:{REF}"}

    answer = await press(max_fake, ANNA, card, f"sub:{REF}")
    assert answer["notification"] == "Done: I will remind you of “Valdai Club to Discuss Russia-North Korea Treaty”."
    assert card.edits == 1 and buttons(card)["🔕 Stop reminding"] == f"uns:{REF}"  # the card's button flipped
    assert card.text.startswith("Valdai Club to Discuss")  # and it still says what it said
    assert bot.services.chats.subscriptions(ANNA, messenger=Platform.MAX).event_ids == (REF,)
    assert bot.services.chats.subscriptions(ANNA).event_ids == ()  # Telegram's 70001 is someone else
    ChatStore(chat_store.sessions).subscribe(ANNA, ANNA, "en", REF)  # ...who subscribed on Telegram

    before = len(max_fake.sent_to(ANNA))
    await bot.broadcaster.sweep()  # a day before: nothing due yet
    assert len(max_fake.sent_to(ANNA)) == before
    clock.now = START - timedelta(hours=1)
    assert await bot.broadcaster.sweep() == 2  # one on each messenger
    await until(max_fake, lambda: len(max_fake.sent_to(ANNA)) == before + 1)
    reminder = max_fake.sent_to(ANNA)[-1]
    assert reminder.text.startswith("🔔 Reminder: Valdai Club to Discuss Russia-North Korea Treaty starts in an hour")
    assert buttons(reminder) == {"📅 Add to calendar": f"ics:{REF}", "« Event": f"ev:{REF}"}
    queue = ReminderQueue(chat_store.sessions)
    await until(max_fake, lambda: queue.open_count(Platform.MAX) == 0)
    assert queue.open_count(Platform.TELEGRAM) == 1  # the Telegram person's waits for the Telegram bot
    assert all(r.headers.get("authorization") == TOKEN and TOKEN not in r.path for r in max_fake.requests)


async def test_unsubscribe_the_calendar_file_and_the_language(
    max_fake: FakeMax, bot: MaxChat, chat_store: Store
) -> None:
    (done,) = await say(max_fake, IVAN, "/subscribe", locale="ru")
    assert done.text == "Готово: буду напоминать обо всех мероприятиях в личных сообщениях."
    (mine,) = await say(max_fake, IVAN, "/mysubs")
    assert "обо всех мероприятиях" in mine.text  # the language chosen by subscribing stays
    (off,) = await say(max_fake, IVAN, "/unsubscribe")
    assert off.text == "Готово: напоминаний больше не будет."
    assert not ChatStore(chat_store.sessions).subscriptions(IVAN, messenger=Platform.MAX).all_events

    (card,) = await say(max_fake, ANNA, f"/event {REF}")
    since = len(max_fake.sent_to(ANNA))
    max_fake.user_presses(ANNA, card, f"ics:{REF}")
    await until(max_fake, lambda: len(max_fake.sent_to(ANNA)) == since + 1)
    sent = max_fake.sent_to(ANNA)[-1]
    assert sent.file is not None and "add it to your calendar" in sent.text
    token = sent.file["payload"]["token"]
    kind, data, _ = max_fake.uploads[token]
    assert (kind, max_fake.file_names[token]) == ("file", f"{REF}.ics")
    (entry,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert str(entry["uid"]) == f"{REF}@announce-bot" and entry.decoded("dtstart").hour == 11

    (ask,) = await say(max_fake, ANNA, "/lang")
    assert ask.text == "Choose a language:"
    await press(max_fake, ANNA, ask, "lang:ru")
    assert ask.text == "Буду писать по-русски." and buttons(ask) == {"English": "lang:en", "✓ Русский": "lang:ru"}
    (help_ru,) = await say(max_fake, ANNA, "/help")
    assert help_ru.text.startswith("Что я умею")


async def test_pages_stale_buttons_odd_input_admins_and_the_deep_link(max_fake: FakeMax, bot: MaxChat) -> None:
    (page,) = await say(max_fake, ANNA, "/events")
    assert "Upcoming events (1 of 2)" in page.text and buttons(page)["Later ›"] == "pg:1"
    await press(max_fake, ANNA, page, "pg:1")
    assert "(2 of 2)" in page.text and "China Session" in page.text and page.edits == 1
    (opened,) = await press_for_message(max_fake, ANNA, page, "ev:china-session")
    assert opened.text.startswith("China Session")
    for payload in ("ev:no-such-event", "pg:abc", "zzz"):
        page.attachments[0]["payload"]["buttons"].append([{"type": "callback", "text": payload, "payload": payload}])
        answer = await press(max_fake, ANNA, page, payload)
        assert answer == {"notification": "This button no longer works: try /events."}, payload
    (hint,) = await say(max_fake, ANNA, "hello there")
    assert hint.text == "I did not understand that. /help lists what I can do."
    (unknown,) = await say(max_fake, ANNA, "/dance")
    assert unknown.text == "I do not know that command. /help lists mine."
    (refused,) = await say(max_fake, ANNA, "/status")
    assert refused.text == "Sorry, this command is for the organisers only."
    (status,) = await say(max_fake, OLGA, "/status")
    assert status.text.startswith("Next posts")
    # A deep link to the event opens its card and offers reminders, as on Telegram.
    since = len(max_fake.sent_to(IVAN))
    max_fake.user_starts(IVAN, payload=f"event_{REF}", locale="ru")
    await until(max_fake, lambda: len(max_fake.sent_to(IVAN)) == since + 2)
    card, offer = max_fake.sent_to(IVAN)[since:]
    assert card.text.startswith("Клуб «Валдай» обсудит") and buttons(offer)["🔔 Напоминать обо всех"] == "suball"
    assert bot.services.deep_link(f"event_{REF}") == f"https://max.ru/valdai_bot?start=event_{REF}"


async def press_for_message(fake: FakeMax, user: int, message: Sent, payload: str) -> list[Sent]:
    """A press that answers with a new message (and nothing to say on the button)."""
    since = len(fake.sent_to(user))
    fake.user_presses(user, message, payload)
    await until(fake, lambda: len(fake.sent_to(user)) > since)
    return fake.sent_to(user)[since:]


async def test_someone_who_blocked_the_bot_gets_nothing_more(
    max_fake: FakeMax, bot: MaxChat, clock: Clock, chat_store: Store
) -> None:
    await say(max_fake, ANNA, "/subscribe")
    await say(max_fake, IVAN, "/subscribe")
    max_fake.blocked.add(IVAN)
    clock.now = START - timedelta(hours=1)
    await bot.broadcaster.sweep()
    queue = ReminderQueue(chat_store.sessions)
    await until(max_fake, lambda: queue.open_count(Platform.MAX) == 0)
    progress = [p for p in queue.progress() if p.total]
    assert [(p.sent, p.blocked) for p in progress] == [(1, 1)]
    assert ChatStore(chat_store.sessions).stats().inactive == 1


def test_reminders_and_replies_share_the_token_s_limits_with_the_channel_at_max_s_rate(
    runtime: Runtime, chat_store: Store
) -> None:
    registry = RateLimits()
    chat = max_chat(runtime.live, runtime.operations, limits=registry)
    assert chat.broadcaster.rate == 30  # [chat] broadcast_rate = 500 here: MAX's ~30 a second (bot/platforms.py)
    assert Publisher(runtime.live, limits=registry).limits_for("max") is chat.client.limits is chat.broadcaster.limits


async def test_a_malformed_update_is_skipped_and_the_next_answered(max_fake: FakeMax, bot: MaxChat) -> None:
    max_fake._push({"update_type": "message_created", "timestamp": 1, "message": {"recipient": "not-a-chat"}})
    (reply,) = await say(max_fake, ANNA, "/help")
    assert reply.text.startswith("What I can do")
    health = bot.health()
    assert health.ok and health.skipped_updates == 1


async def test_run_starts_the_chat_bot_on_max_and_says_why_not_without_a_token(
    config: AppConfig, chat_store: Store, max_fake: FakeMax, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = Lines()
    service = Service(Runtime.build(config, store=chat_store, notify=False), lines)
    chat = await service._start_chat(Platform.MAX)
    assert isinstance(chat, MaxChat) and TOKEN not in repr(chat)
    service.max_chat = chat
    try:
        (reply,) = await say(max_fake, ANNA, "/help")
        assert reply.text.startswith("What I can do")
        assert service.chat_health()["max"]["state"] == "ok"
    finally:
        await chat.stop()
        await service.runtime.aclose()
    assert "chat bot on MAX @valdai_bot answers people (polling)" in lines.said
    monkeypatch.delenv("ANNOUNCE_BOT_TARGETS__MAX__TOKEN")
    service = Service(Runtime.build(load_config(workdir / "config"), store=chat_store, notify=False), lines)
    assert await service._start_chat(Platform.MAX) is None
    assert "chat bot on MAX off: MAX target 'max' has no bot token" in lines.said
    await service.runtime.aclose()


async def test_one_fault_rule_for_max_reminders_may_have_arrived_is_unknown_never_left_is_retried(
    max_fake: FakeMax, bot: MaxChat, clock: Clock, chat_store: Store
) -> None:
    people = (ANNA, IVAN, 70003)
    chats = ChatStore(chat_store.sessions)
    for person in people:
        chats.subscribe(person, 5_000_000_000 + person, "en", REF, messenger=Platform.MAX)
    max_fake.fail_call("POST /messages", 1, record_then_drop())  # MAX sent it, the answer was lost
    max_fake.fail_call("POST /messages", 2, Reply(status=503, body={"code": "internal", "message": "try later"}))
    clock.now = START - timedelta(hours=1)
    await bot.broadcaster.sweep()
    queue = ReminderQueue(chat_store.sessions)

    def states() -> dict[int, tuple[str, int, str]]:
        with chat_store.sessions() as session:
            return {r.user_id: (r.state, r.attempts, r.error or "") for r in session.query(ReminderRow)}

    # Every outcome recorded (the 503 one put off by 5 s from the clock of its failure), and only then time moves.
    await until(max_fake, lambda: sorted(state for state, _, _ in states().values()) == ["queued", "sent", "unknown"])
    clock.now += timedelta(seconds=6)
    await until(max_fake, lambda: queue.open_count(Platform.MAX) == 0)
    rows = states()
    assert Counter(state for state, _, _ in rows.values()) == {"sent": 2, "unknown": 1}
    unknown = next(error for state, _, error in rows.values() if state == "unknown")
    assert "may or may not have been published" in unknown and TOKEN not in unknown
    assert sorted(attempts for state, attempts, _ in rows.values() if state == "sent") == [1, 2]
    assert Counter(m.user_id for m in max_fake.messages) == {person: 1 for person in people}  # nobody twice
