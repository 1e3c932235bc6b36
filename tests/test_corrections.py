"""Changes reach what is already published: the announcement edited where it went out (Telegram, VK, Dzen), a reply
in the thread on X, a comment on VK when editing is refused, the change notice, and the subscribers told."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.domain import PostKind, PostState
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from bot.storage.chat import ChatStore
from bot.storage.reminders import ReminderQueue
from tests.clock import Clock
from tests.conftest import Platforms

START = datetime(2024, 11, 27, 8, 0, tzinfo=UTC)
ANNOUNCED = START - timedelta(days=7)
IMPORTED = datetime(2024, 11, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DELIVERY__RATE_LIMIT", "false")


async def announced(database_url: str, clock: Clock) -> Runtime:
    runtime = Runtime.build(load_config(Path("config")), store=Store(open_database(database_url)), clock=clock,
                            notify=False, schedules=True)
    import_events(runtime.config, runtime.store, IMPORTED)
    clock.now = ANNOUNCED
    await runtime.dispatcher.dispatch()
    await runtime.dispatcher.drain()
    return runtime


def move(workdir: Path, old: str, new: str) -> None:
    path = workdir / "config" / "events" / "russia-dprk-treaty.yaml"
    path.write_text(path.read_text().replace(old, new))


async def test_a_new_time_is_edited_into_every_published_announcement(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    clock = Clock(IMPORTED)
    runtime = await announced(database_url, clock)
    ChatStore(runtime.store.sessions).subscribe(11, 11, "en", "russia-dprk-treaty")
    first_tweets = [t.id for t in platforms.x.tweets]
    move(workdir, "start: 2024-11-27 11:00", "start: 2024-11-28 11:00")
    move(workdir, "end: 2024-11-27 13:00", "end: 2024-11-28 13:00")
    clock.now = ANNOUNCED + timedelta(hours=1)
    await runtime.operations.sync_files()
    await runtime.dispatcher.drain()
    posts = runtime.store.posts("russia-dprk-treaty")
    edits = {p.target: p for p in posts if p.edits is not None}
    assert {t: p.state for t, p in edits.items()} == dict.fromkeys(["telegram", "telegram_ru", "vk", "x", "dzen"],
                                                                    PostState.SENT)
    # Telegram: the announcement message itself now says the new date.
    announcement = platforms.telegram.messages[0]
    assert announcement.get("edits") == 1 and "November 28" in announcement["text"]
    # VK: the wall post edited in place.
    assert platforms.vk.posts[0].edits == 1 and "28 ноября" in platforms.vk.posts[0].message
    # X cannot edit: the notice is a reply to the thread, and X gets no other notice.
    reply = platforms.x.tweets[-1]
    assert reply.in_reply_to == first_tweets[-1] and "New time" in reply.text
    notices = Counter(p.target for p in posts if p.kind is PostKind.CHANGED)
    assert notices == {"telegram": 1, "telegram_ru": 1, "vk": 1, "dzen": 1}
    # Each edit is in the delivery log, and subscribers are told by direct message.
    corrected = {d.planned_post_id for d in runtime.store.deliveries("russia-dprk-treaty", limit=200)}
    assert {p.id for p in edits.values()} <= corrected
    (told,) = [p for p in ReminderQueue(runtime.store.sessions).progress("russia-dprk-treaty")
               if p.step_id.startswith("changed-")]
    assert told.total == 1
    # Nothing published twice: one announcement each, still.
    assert len([m for m in platforms.telegram.messages if "Dmitry Kiku" in m.get("text", "")]) == 1
    await runtime.aclose()


async def test_vk_refusing_the_edit_gets_a_comment_and_a_venue_change_edits_without_a_notice(
    database_url: str, platforms: Platforms, workdir: Path
) -> None:
    clock = Clock(IMPORTED)
    runtime = await announced(database_url, clock)
    platforms.vk.edit_refusal = (15, "Access denied: no access to call this method")
    move(workdir, "Tsvetnoy boulevard 16/1", "Tverskaya street 1")
    clock.now = ANNOUNCED + timedelta(hours=1)
    await runtime.operations.sync_files()
    await runtime.dispatcher.drain()
    posts = runtime.store.posts("russia-dprk-treaty")
    assert not [p for p in posts if p.kind is PostKind.CHANGED]  # only the time or status warrants a notice
    vk = platforms.vk.posts[0]
    assert vk.edits == 0 and len(vk.comments) == 1  # VK refused the edit: the notice as a comment
    assert "Tverskaya" in platforms.telegram.messages[0]["text"]
    # X cannot edit and a venue alone warrants no notice: nothing goes to X.
    assert not [p for p in posts if p.edits is not None and p.target == "x"]
    assert len([t for t in platforms.x.tweets if t.in_reply_to is None]) == 1
    await runtime.aclose()


async def test_a_cancellation_flags_the_announcement(database_url: str, platforms: Platforms, workdir: Path) -> None:
    clock = Clock(IMPORTED)
    runtime = await announced(database_url, clock)
    move(workdir, "status: scheduled", "status: cancelled")
    clock.now = ANNOUNCED + timedelta(days=1)
    await runtime.operations.sync_files()
    await runtime.dispatcher.drain()
    assert platforms.telegram.messages[0]["text"].startswith("❗ <b>Cancelled</b>")
    assert "Cancelled" in platforms.telegram.messages[-1]["text"]  # and the notice
    await runtime.aclose()
