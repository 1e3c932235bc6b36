"""Organisers' commands: refused (and logged) for everyone else; status, post, retry, reload and stats for admins."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest

from bot.chat import ChatBot
from bot.domain import PlannedPost, PostState
from bot.errors import PermanentError, PublishError, TransientError
from bot.platforms import visible_text
from bot.storage import Claims, Store
from bot.storage.hotpath import Settlement
from bot.storage.reminders import ReminderQueue
from tests.chat.conftest import ADMIN, ANNA, IVAN, NOW, Say, write_event
from tests.fakes.telegram import FakeTelegram, User

REF = "russia-dprk-treaty"
PYOTR = User(id=5005, first_name="Pyotr", language_code="ru")
ANNOUNCED = datetime(2024, 11, 20, 8, 0, tzinfo=NOW.tzinfo)


def fail_one(store: Store, error: PublishError) -> PlannedPost:
    """The first announcement fails for good, as a sender would record it."""
    claims = Claims(store.sessions)
    (post,) = claims.claim_due(ANNOUNCED, "test", limit=1)
    delivery = claims.start(post, "test", ANNOUNCED)
    message = f"{type(error).__name__}: {error}"
    assert claims.settle(post, "test", delivery, Settlement(state=PostState.FAILED, reason=message, error=str(error),
                                                            error_kind=type(error).__name__), ANNOUNCED)
    return post


@pytest.mark.parametrize("command", ["/status", "/post russia-dprk-treaty announcement", "/retry 1", "/reload",
                                     "/stats", "/golive russia-dprk-treaty https://t.me/valdaiclub/9"])
async def test_non_admins_are_refused_politely_and_logged(
    say: Say, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, command: str
) -> None:
    caplog.set_level(logging.WARNING, logger="announce_bot.chat.admin")
    (refusal,) = await say(ANNA, command)
    assert refusal["text"] == "Sorry, this command is for the organisers only."
    name = command.split()[0][1:]
    assert f"refused /{name} from user {ANNA.id}" in caplog.text
    assert fake.in_chat("@valdaiclub") == []  # nothing was published


async def test_stats_counts_subscribers_per_language(say: Say) -> None:
    await say(ANNA, "/subscribe")
    await say(IVAN, f"/subscribe {REF}")
    await say(PYOTR, "/start")  # met, but not subscribed
    (stats,) = await say(ADMIN, "/stats")
    text = visible_text(stats["text"])
    assert "Людей: 3" in text and "Подписаны: 2" in text
    assert "• English: 1" in text and "• Русский: 1" in text


async def test_status_shows_next_posts_failures_and_reminders(say: Say, chat_store: Store) -> None:
    post = fail_one(chat_store, PermanentError("Telegram refused the post: too long"))
    ReminderQueue(chat_store.sessions).enqueue(REF, "reminder-1d", "reminder", NOW, NOW)
    (status,) = await say(ADMIN, "/status")
    text = visible_text(status["text"])
    assert text.startswith("Ближайшие публикации")
    assert "reminder-1d → telegram" in text  # the next planned posts, soonest first
    assert f"#{post.id} {post.event_id} {post.step_id} → {post.target}: failed: PermanentError" in text
    assert f"{REF} reminder-1d: 0/0 sent" in text


async def test_post_publishes_now_through_the_real_adapters(say: Say, fake: FakeTelegram) -> None:
    (usage,) = await say(ADMIN, "/post")
    assert "/post &lt;мероприятие&gt; &lt;вид&gt;" in usage["text"] and "announcement" in usage["text"]
    (missing,) = await say(ADMIN, "/post nothing announcement")
    assert "«nothing»" in visible_text(missing["text"])
    (result,) = await say(ADMIN, f"/post {REF} announcement", timeout=15)
    (channel,) = fake.in_chat("@valdaiclub")
    assert "Valdai Club" in channel["text"]
    lines = visible_text(result["text"]).splitlines()
    assert any(line.startswith("✓ telegram: ") and line.endswith(f"https://t.me/valdaiclub/{channel['message_id']}")
               for line in lines)
    assert any(line.startswith("✓ vk: ") and "→ file:" in line for line in lines)  # no VK token: the outbox


async def test_retry_puts_a_failed_post_back(say: Say, chat_store: Store) -> None:
    post = fail_one(chat_store, TransientError("down"))
    (done,) = await say(ADMIN, f"/retry {post.id}")
    assert f"№{post.id}" in done["text"] and "будет отправлена снова" in done["text"]
    assert next(p for p in chat_store.posts() if p.id == post.id).state == "planned"
    (again,) = await say(ADMIN, f"/retry {post.id}")
    assert f"№{post.id} не повторена" in again["text"] and "planned" in again["text"]
    (missing,) = await say(ADMIN, "/retry 99999")
    assert "№99999 нет" in missing["text"]
    (usage,) = await say(ADMIN, "/retry abc")
    assert "Формат: /retry" in visible_text(usage["text"])


async def test_reload_reads_new_event_files_and_keeps_the_old_config_on_errors(
    say: Say, workdir: Path, bot: ChatBot
) -> None:
    write_event(workdir / "config" / "events", "new-event", "Brand New Event", datetime(2024, 12, 24, 10, 0))
    (done,) = await say(ADMIN, "/reload")
    assert "мероприятий 6 (изменено 1)" in done["text"]
    (card,) = await say(ANNA, "/event new-event")
    assert "Brand New Event" in card["text"]
    settings = workdir / "config" / "settings.toml"
    settings.write_text(settings.read_text() + '\n[chat]\nmode = "carrier-pigeon"\n')
    before = bot.services.config
    (failed,) = await say(ADMIN, "/reload")
    assert "ничего не изменено" in failed["text"] and "chat.mode" in failed["text"]
    assert bot.services.config is before


async def test_golive_sets_the_stream_links(say: Say, chat_store: Store) -> None:
    (usage,) = await say(ADMIN, "/golive")
    assert "/golive &lt;мероприятие&gt;" in usage["text"]
    (done,) = await say(ADMIN, f"/golive {REF} https://vkvideo.ru/video-1_2 website=https://valdaiclub.com/live")
    assert "stream links set; the live posts go out at their time" in visible_text(done["text"])
    event = chat_store.event(REF)
    assert event is not None
    assert event.live["vk"] == "https://vkvideo.ru/video-1_2" and event.live["website"] == "https://valdaiclub.com/live"
    (bad,) = await say(ADMIN, f"/golive {REF} x=nonsense")
    assert "the links were not set" in visible_text(bad["text"])
    (typo,) = await say(ADMIN, f"/golive {REF} vkk=https://vkvideo.ru/video-1_3?list=ab")
    assert "did you mean 'vk'?" in visible_text(typo["text"])
    stored = chat_store.event(REF)
    assert stored is not None and "vkk" not in stored.live and stored.live["vk"] == "https://vkvideo.ru/video-1_2"



async def test_recording_sets_the_recording_links(say: Say, chat_store: Store) -> None:
    (usage,) = await say(ADMIN, "/recording")
    assert "/recording &lt;мероприятие&gt;" in usage["text"]
    (done,) = await say(ADMIN, f"/recording {REF} https://rutube.ru/video/abc/ vk=https://vkvideo.ru/video-1_2")
    assert "recording set" in visible_text(done["text"])
    event = chat_store.event(REF)
    assert event is not None and event.recording == {"rutube": "https://rutube.ru/video/abc/",
                                                      "vk": "https://vkvideo.ru/video-1_2"}
    (bad,) = await say(ADMIN, f"/recording {REF} youtube=nonsense")
    assert "the recording was not set" in visible_text(bad["text"])
