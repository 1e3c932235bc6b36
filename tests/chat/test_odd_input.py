"""Groups, odd input (empty, huge, other scripts, edited, stickers, stale buttons) and floods: short hints, no crash."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.chat import ChatBot
from tests.chat.conftest import ANNA, IVAN, Clock, Say, buttons
from tests.fakes.telegram import FakeTelegram, User

REF = "russia-dprk-treaty"


async def test_group_commands_addressed_to_the_bot(say: Say, fake: FakeTelegram) -> None:
    group = fake.group()
    (card,) = await say(ANNA, "/next@announce_test_bot", chat=group)
    assert card["chat_id"] == str(group["id"])
    assert "Valdai Club to Discuss" in card["text"]
    # In a group the reminder button opens the private chat with the bot on this event.
    assert buttons(card)["🔔 Remind me"] == f"https://t.me/announce_test_bot?start=event_{REF}"
    (plain,) = await say(IVAN, "/events", chat=group)
    assert "Ближайшие мероприятия" in plain["text"]  # a command without @ is ours too, in the asker's language
    (unknown,) = await say(ANNA, "/dance@announce_test_bot", chat=group)
    assert "I do not know that command" in unknown["text"]


async def test_group_chatter_and_other_bots_commands_get_no_answer(say: Say, fake: FakeTelegram) -> None:
    group = fake.group()
    since = fake.mark()
    fake.send(ANNA, "hello everyone", chat=group)
    fake.send(ANNA, "/start@some_other_bot", chat=group)
    fake.send(ANNA, "/weather", chat=group)
    (help_reply,) = await say(ANNA, "/help@announce_test_bot", chat=group)  # updates are handled in order
    assert fake.in_chat(group["id"], since) == [help_reply]


async def test_group_can_subscribe_and_switch_language(say: Say, press: Say, fake: FakeTelegram,
                                                       bot: ChatBot) -> None:
    group = fake.group(-100222, "Клуб читателей")
    (ask,) = await say(ANNA, "/lang", chat=group)
    await press(ANNA, ask, "lang:ru", count=0)
    assert await fake.until(lambda: fake.in_chat(group["id"])[-1]["text"] == "Буду писать по-русски.")
    (done,) = await say(ANNA, "/subscribe", chat=group)
    assert "обо всех мероприятиях" in done["text"]
    assert bot.services.chats.subscriptions(group["id"]).all_events  # the group itself is the subscriber
    assert not bot.services.chats.subscriptions(ANNA.id).all_events


@pytest.mark.parametrize("text", ["", "   ", "x" * 4096, "你好，活动什么时候开始？", "🙂🙂🙂", "<b>hi</b> & </i>"])
async def test_odd_text_in_private_gets_a_short_hint(say: Say, text: str) -> None:
    (hint,) = await say(ANNA, text)
    assert hint["text"] == "I did not understand that. /help lists what I can do."


async def test_non_text_messages_and_unknown_commands(say: Say) -> None:
    sticker = {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False}
    (hint,) = await say(ANNA, None, sticker=sticker)
    assert "/help" in hint["text"]
    (unknown,) = await say(IVAN, "/" + "z" * 300)
    assert unknown["text"] == "Такой команды я не знаю. /help — список команд."
    (huge,) = await say(ANNA, "/search " + "korea " * 800)  # capped, still answers
    assert "Valdai Club to Discuss" in huge["text"]


async def test_edited_message_is_not_run_again(say: Say, fake: FakeTelegram) -> None:
    since = fake.mark()
    fake.edit(ANNA, "/subscribe")
    (note,) = await fake.wait_messages(ANNA.id, 1, since)
    assert note["text"] == "I answer new messages only: please send the command again."
    (mine,) = await say(ANNA, "/mysubs")
    assert "You get no reminders" in mine["text"]  # the edited /subscribe did nothing


async def test_unknown_and_stale_callback_data(say: Say, fake: FakeTelegram) -> None:
    (card,) = await say(ANNA, "/next")
    for data in ("zzz", "ev:no-such-event", "ics:_ffffffffffffffffffff", "pg:abc", "lang:fr", "sub:", "x" * 64):
        count = len(fake.callback_answers)
        fake.press(ANNA, card["message_id"], data)
        (*_, answer) = await fake.wait_callback_answers(count + 1)
        assert answer["text"] == "This button no longer works: try /events.", data
    (still,) = await say(ANNA, "/help")  # alive and well
    assert "What I can do" in still["text"]


async def test_a_failing_handler_is_logged_without_the_token_and_the_bot_goes_on(
    say: Say, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail_method("sendMessage", FakeTelegram.server_error())
    since = fake.mark()
    fake.send(ANNA, "/help")
    assert await fake.until(lambda: len(fake.calls("sendMessage")) >= 1)
    await asyncio.sleep(0.2)
    assert fake.in_chat(ANNA.id, since) == []
    (ok,) = await say(ANNA, "/help")
    assert "What I can do" in ok["text"]
    assert "handling update" in caplog.text and "NetworkError" in caplog.text
    assert "CHAT-secret-token" not in caplog.text


async def test_a_flooding_user_is_throttled_and_warned_once(fake: FakeTelegram, say: Say, bot: ChatBot,
                                                            clock: Clock) -> None:
    flooder = User(id=4004, first_name="Flood")
    since = fake.mark()
    for _ in range(40):  # while the clock stands still: nothing refills
        fake.send(flooder, "/help")
    await fake.until(lambda: fake.pending_updates() == 0)
    (other,) = await say(ANNA, "/help")  # someone else is not held up
    assert "What I can do" in other["text"]
    await fake.until(lambda: len(fake.in_chat(flooder.id, since)) >= 13)
    replies = fake.in_chat(flooder.id, since)
    warnings = [m for m in replies if m["text"].startswith("Too many messages")]
    assert len(warnings) == 1
    assert len(replies) - 1 == 12  # the burst, then nothing
    assert bot.application.bot_data["throttle"].refused == 40 - 12
    clock.now += timedelta(seconds=3)  # three seconds later, at 1 a second: three more, and no second warning
    for _ in range(5):
        fake.send(flooder, "/help")
    await fake.until(lambda: fake.pending_updates() == 0)

    def answers() -> list[dict[str, object]]:
        later = fake.in_chat(flooder.id, since)[len(replies):]
        return [m for m in later if not str(m["text"]).startswith("Too many messages")]

    await fake.until(lambda: len(answers()) >= 3)
    later = fake.in_chat(flooder.id, since)[len(replies):]
    assert len([m for m in later if not m["text"].startswith("Too many messages")]) == 3
