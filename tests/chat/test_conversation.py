"""Every command and button in a private chat, in English and Russian, through the real PTB Application."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from bot.chat import ChatBot
from bot.platforms import telegram_length, visible_text
from tests.chat.conftest import ANNA, IVAN, NOW, Clock, Say, buttons, write_event
from tests.fakes.telegram import FakeTelegram

REF = "russia-dprk-treaty"


async def test_start_greets_in_the_users_language_and_offers_languages(say: Say, fake: FakeTelegram) -> None:
    (en,) = await say(ANNA, "/start")
    assert "Hello, Anna!" in en["text"] and "/events" in en["text"] and "/subscribe" in en["text"]
    assert buttons(en) == {"✓ English": "lang:en", "Русский": "lang:ru"}
    (ru,) = await say(IVAN, "/start")
    assert "Здравствуйте, Иван!" in ru["text"] and "/events — ближайшие мероприятия" in ru["text"]
    assert all(m["parse_mode"] == "HTML" for m in (en, ru))
    # The command menus were published in both languages when the bot started.
    assert [c["command"] for c in fake.commands[""]][:3] == ["start", "events", "next"]
    assert fake.commands["ru"][1]["description"] == "Ближайшие мероприятия"


async def test_help_lists_every_command(say: Say) -> None:
    (message,) = await say(ANNA, "/help")
    for command in ("/events", "/next", "/event", "/live", "/speakers", "/search", "/subscribe", "/unsubscribe",
                    "/mysubs", "/lang", "/help"):
        assert command in message["text"]


async def test_next_shows_the_event_in_full(say: Say) -> None:
    (card,) = await say(ANNA, "/next")
    text = visible_text(card["text"])
    assert text.startswith("Valdai Club to Discuss Russia-North Korea Treaty")
    when = next(line for line in text.splitlines() if "When:" in line)
    # The start in the event's own zone with its UTC offset (Babel decides the order of day and month).
    assert all(part in when for part in ("Wednesday", "27", "November", "2024", "11:00", "Moscow Time", "(GMT+3)"))
    assert "Where: Valdai Club Conference Hall, Tsvetnoy boulevard 16/1, Moscow, Russia" in text
    assert "Georgy Toloraya — Head of the Center of Russian Strategy in Asia" in text
    assert "Moderator: Ivan Timofeev — Programme Director of the Valdai Discussion Club" in text
    assert "Languages: Russian, English" in text
    assert "Accreditation: In order to get accredited" in text and "+7 926 930-77-63" in text
    assert "Live broadcast: Website · X · VK · Telegram · Dzen" in text
    assert '<a href="https://vk.com/valdaiclub">VK</a>' in card["text"]
    assert telegram_length(card["text"]) <= 4096
    assert buttons(card) == {"🎤 Speakers": f"sp:{REF}", "📺 Live links": f"lv:{REF}",
                             "📅 Add to calendar": f"ics:{REF}", "🔔 Remind me": f"sub:{REF}"}


async def test_next_in_russian_uses_russian_dates_and_texts(say: Say) -> None:
    (card,) = await say(IVAN, "/next")
    text = visible_text(card["text"])
    assert text.startswith("Клуб «Валдай» обсудит договор России и КНДР")
    when = next(line for line in text.splitlines() if "Когда:" in line)
    assert all(part in when for part in ("Среда", "27 ноября", "2024", "11:00", "по московскому времени"))
    assert "Дмитрий Кику — заместитель директора" in text
    assert "Языки: русский, английский" in text
    assert set(buttons(card)) == {"🎤 Спикеры", "📺 Трансляция", "📅 В календарь", "🔔 Напомнить"}


async def test_events_pages_with_buttons(say: Say, press: Say, fake: FakeTelegram) -> None:
    (page,) = await say(ANNA, "/events")
    assert "Upcoming events (1 of 2)" in visible_text(page["text"])
    assert "Past Meeting" not in page["text"]  # over: not listed
    first = buttons(page)
    assert list(first) == ["Valdai Club to Discuss Russia-North Korea Treaty", "Energy Security Forum", "Arctic Talks",
                           "Later ›"]
    assert first["Energy Security Forum"] == "ev:energy-forum"
    await press(ANNA, page, "pg:1", count=0)
    assert await fake.until(lambda: fake.in_chat(ANNA.id)[-1].get("edits") == 1)
    edited = fake.in_chat(ANNA.id)[-1]
    assert edited["message_id"] == page["message_id"]  # the same message turned its page
    assert "(2 of 2)" in visible_text(edited["text"]) and "China Session" in edited["text"]
    assert list(buttons(edited)) == ["China Session", "‹ Earlier"]
    (card,) = await press(ANNA, edited, "ev:china-session")
    assert visible_text(card["text"]).startswith("China Session")
    assert all(part in visible_text(card["text"]) for part in ("Tuesday", "17", "December", "12:00", "(GMT+3)"))


async def test_event_by_id_and_errors(say: Say) -> None:
    (card,) = await say(ANNA, "/event arctic-talks")
    assert visible_text(card["text"]).startswith("Arctic Talks")
    (missing,) = await say(ANNA, "/event no-such-event")
    assert "I know no event “no-such-event”" in visible_text(missing["text"])
    (usage,) = await say(ANNA, "/event")
    assert "Which event?" in usage["text"]
    (odd,) = await say(ANNA, "/event <b>&amp;</b>")
    assert "I know no event" in visible_text(odd["text"]) and "&lt;b&gt;" in odd["text"]  # escaped, not parsed


async def test_card_buttons_speakers_live_and_back(say: Say, press: Say) -> None:
    (card,) = await say(ANNA, "/next")
    (speakers,) = await press(ANNA, card, f"sp:{REF}")
    text = visible_text(speakers["text"])
    assert text.startswith("Speakers — Valdai Club")
    assert "Xu Bo — Professor at the Northeast Asia Research Center of Jilin University" in text
    assert buttons(speakers) == {"« Event": f"ev:{REF}"}
    (live,) = await press(ANNA, card, f"lv:{REF}")
    assert "Next broadcast: Valdai Club to Discuss" in visible_text(live["text"])
    assert "https://rutube.ru" not in live["text"] and 'href="https://t.me/valdaiclub"' in live["text"]
    (back,) = await press(ANNA, live, f"ev:{REF}")
    assert visible_text(back["text"]).startswith("Valdai Club to Discuss")


async def test_speakers_command_with_and_without_event(say: Say) -> None:
    (default,) = await say(ANNA, "/speakers")
    assert "Konstantin Asmolov" in default["text"]  # the next event's
    (named,) = await say(ANNA, "/speakers energy-forum")
    assert "Maria Lopez — Rosatom" in visible_text(named["text"])


async def test_live_gives_the_next_broadcast_then_the_running_one(say: Say, clock: Clock) -> None:
    (before,) = await say(ANNA, "/live")
    assert "Next broadcast: Valdai Club" in visible_text(before["text"])
    assert all(part in visible_text(before["text"]) for part in ("27", "November", "11:00", "(GMT+3)"))
    assert before["text"].count("<a href=") == 5
    clock.now = NOW.replace(day=27, hour=8, minute=30)  # 11:30 in Moscow: on air
    (during,) = await say(IVAN, "/live")
    assert "Сейчас в эфире: Клуб «Валдай»" in visible_text(during["text"])
    assert 'href="https://vk.com/valdaiclub">ВКонтакте</a>' in during["text"]


async def test_search_by_title_speaker_and_affiliation(say: Say) -> None:
    (by_title,) = await say(ANNA, "/search korea")
    assert "Valdai Club to Discuss Russia-North Korea Treaty" in by_title["text"]
    assert list(buttons(by_title)) == ["Valdai Club to Discuss Russia-North Korea Treaty"]
    (by_speaker,) = await say(ANNA, "/search lopez")
    assert list(buttons(by_speaker)) == ["Energy Security Forum"]
    (by_affiliation,) = await say(ANNA, "/search Rosatom")
    assert list(buttons(by_affiliation)) == ["Energy Security Forum"]
    (russian,) = await say(IVAN, "/search Толорая")
    assert "Клуб «Валдай» обсудит" in russian["text"]
    (none,) = await say(ANNA, "/search unicorns")
    assert "Nothing found for “unicorns”" in visible_text(none["text"])
    (usage,) = await say(ANNA, "/search")
    assert "What should I look for?" in usage["text"]


async def test_add_to_calendar_sends_an_ics_file(say: Say, press: Say, fake: FakeTelegram) -> None:
    (card,) = await say(ANNA, "/next")
    (sent,) = await press(ANNA, card, f"ics:{REF}")
    assert sent["method"] == "sendDocument" and sent["filename"] == f"{REF}.ics"
    calendar = icalendar.Calendar.from_ical(sent["document"])
    (entry,) = calendar.walk("VEVENT")
    start = entry.decoded("dtstart")
    assert str(start.tzinfo) == "Europe/Moscow" and start.hour == 11
    assert start.utcoffset() == timedelta(hours=3)
    assert entry["dtstart"].params["TZID"] == "Europe/Moscow"
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Moscow"]
    assert str(entry["location"]) == "Valdai Club Conference Hall, Tsvetnoy boulevard 16/1, Moscow, Russia"
    # No public_url in this config: the organiser's own page (bot/calendar.py, the same as the web's .ics).
    assert str(entry["url"]) == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
    assert "Telegram: https://t.me/valdaiclub" in str(entry["description"])
    assert str(entry["uid"]) == f"{REF}@announce-bot"
    assert "add it to your calendar" in sent["caption"]


async def test_subscribe_all_then_unsubscribe(say: Say) -> None:
    (done,) = await say(ANNA, "/subscribe")
    assert "I will remind you of every event" in done["text"]
    (again,) = await say(ANNA, "/subscribe")
    assert "already get reminders of every event" in again["text"]
    (mine,) = await say(ANNA, "/mysubs")
    assert "every event" in visible_text(mine["text"])
    (card,) = await say(ANNA, "/next")
    assert "🔕 Stop reminding" in buttons(card)
    (off,) = await say(ANNA, "/unsubscribe")
    assert "no more reminders" in off["text"]
    (none,) = await say(ANNA, "/mysubs")
    assert "You get no reminders" in none["text"]
    (nothing,) = await say(ANNA, "/unsubscribe")
    assert "no reminders to stop" in nothing["text"]


async def test_subscribe_to_one_event_by_command_and_button(say: Say, press: Say, fake: FakeTelegram,
                                                            bot: ChatBot) -> None:
    (done,) = await say(IVAN, "/subscribe arctic-talks")
    assert "напомню о «Arctic Talks (ru)»" in visible_text(done["text"])
    (card,) = await say(IVAN, "/next")
    assert buttons(card)["🔔 Напомнить"] == f"sub:{REF}"
    await press(IVAN, card, f"sub:{REF}", count=0)
    assert await fake.until(lambda: fake.in_chat(IVAN.id)[-1].get("edits") == 1)
    assert buttons(fake.in_chat(IVAN.id)[-1])["🔕 Не напоминать"] == f"uns:{REF}"  # the card's button flipped
    assert "Готово: напомню" in fake.callback_answers[-1]["text"]
    (mine,) = await say(IVAN, "/mysubs")
    assert list(buttons(mine)) == ["Клуб «Валдай» обсудит договор России и КНДР", "Arctic Talks (ru)"]
    subs = bot.services.chats.subscriptions(IVAN.id)
    assert subs.event_ids == (REF, "arctic-talks") and not subs.all_events
    (off,) = await say(IVAN, "/unsubscribe arctic-talks")
    assert "не буду" in off["text"]
    assert bot.services.chats.subscriptions(IVAN.id).event_ids == (REF,)


async def test_deep_link_opens_the_event_and_offers_reminders(say: Say, press: Say, bot: ChatBot) -> None:
    card, offer = await say(ANNA, f"/start event_{REF}", count=2)
    assert visible_text(card["text"]).startswith("Valdai Club to Discuss")
    assert "Want a reminder" in offer["text"]
    assert buttons(offer) == {"🔔 Remind me": f"sub:{REF}", "🔔 Remind me of all events": "suball"}
    (note,) = await press(ANNA, offer, "suball")
    assert "every event" in note["text"]
    assert bot.services.chats.subscriptions(ANNA.id).all_events
    unknown, greeting = await say(ANNA, "/start event_nothing-here", count=2)
    assert "I know no event “nothing-here”" in visible_text(unknown["text"])
    assert "Hello, Anna!" in greeting["text"]


async def test_lang_switches_every_reply(say: Say, press: Say, fake: FakeTelegram) -> None:
    (ask,) = await say(ANNA, "/lang")
    assert ask["text"] == "Choose a language:"
    await press(ANNA, ask, "lang:ru", count=0)
    assert await fake.until(lambda: fake.in_chat(ANNA.id)[-1].get("edits") == 1)
    assert fake.in_chat(ANNA.id)[-1]["text"] == "Буду писать по-русски."
    (help_ru,) = await say(ANNA, "/help")
    assert "Что я умею" in help_ru["text"]
    (back,) = await say(ANNA, "/lang en")
    assert back["text"] == "I will write in English."
    (help_en,) = await say(ANNA, "/help")
    assert "What I can do" in help_en["text"]


async def test_stop_reminding_button_and_long_event_ids(say: Say, press: Say, fake: FakeTelegram, bot: ChatBot,
                                                        workdir: Path, clock: Clock) -> None:
    long_id = "a-very-long-event-identifier-that-does-not-fit-in-telegram-callback-data-at-all"
    write_event(workdir / "config" / "events", long_id, "Long Id Event", datetime(2024, 11, 21, 10, 0))
    assert bot.services.operations is not None
    await bot.services.operations.sync_files()
    (card,) = await say(ANNA, "/next")
    data = buttons(card)["🔔 Remind me"]
    assert data.startswith("sub:_") and len(data.encode()) <= 64  # a short key stands for the long id
    await press(ANNA, card, data, count=0)
    assert await fake.until(lambda: fake.in_chat(ANNA.id)[-1].get("edits") == 1)
    flipped = buttons(fake.in_chat(ANNA.id)[-1])["🔕 Stop reminding"]
    assert bot.services.chats.subscriptions(ANNA.id).event_ids == (long_id,)
    await press(ANNA, fake.in_chat(ANNA.id)[-1], flipped, count=0)
    assert await fake.until(lambda: fake.in_chat(ANNA.id)[-1].get("edits") == 2)
    assert "🔔 Remind me" in buttons(fake.in_chat(ANNA.id)[-1])
    assert bot.services.chats.subscriptions(ANNA.id).event_ids == ()
    bot.services.keys.clear()  # as after a restart: the key is found again from the ids
    (opened,) = await press(ANNA, card, buttons(card)["🎤 Speakers"])
    assert "Long Id Event" in opened["text"]
    (deep, _offer) = await say(ANNA, f"/start event_{data.removeprefix('sub:')}", count=2)
    assert "Long Id Event" in deep["text"]


async def test_pressing_the_same_language_twice_changes_nothing_and_fails_nothing(
    say: Say, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    (ask,) = await say(ANNA, "/lang")
    for expected in (1, 2):
        count = len(fake.callback_answers)
        fake.press(ANNA, ask["message_id"], "lang:en")
        await fake.wait_callback_answers(count + 1)
        assert await fake.until(lambda n=expected: len(fake.calls("editMessageText")) == n)
    assert fake.in_chat(ANNA.id)[-1]["text"] == "I will write in English."
    assert fake.in_chat(ANNA.id)[-1]["edits"] == 1  # Telegram refused the identical edit: "not modified"
    (still,) = await say(ANNA, "/help")
    assert "What I can do" in still["text"]
    assert "handling update" not in caplog.text
