"""Chat bot fixtures: the real config and events, a fake Bot API on 127.0.0.1, and the real PTB Application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.chat import ChatBot, chat_bot
from bot.config import AppConfig, load_config
from bot.importing import import_events
from bot.runtime import Runtime
from bot.storage import Store, open_database
from tests.fakes.telegram import FakeTelegram, User

TOKEN = "987654:CHAT-secret-token"
ADMIN = User(id=1001, first_name="Olga", language_code="ru")
ANNA = User(id=2002, first_name="Anna", language_code="en")
IVAN = User(id=3003, first_name="Иван", language_code="ru")
# The reference event starts on 27 November 2024 at 11:00 Moscow time (08:00 UTC).
NOW = datetime(2024, 11, 20, 9, 0, tzinfo=UTC)
IMPORTED = NOW - timedelta(days=60)  # the events were known well before their campaigns


class Clock:
    """A settable clock: tests move time instead of waiting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_event(events_dir: Path, event_id: str, title: str, start: datetime, **changes: Any) -> None:
    """A copy of the reference event with another id, title and start (its own zone's wall time), no speakers."""
    data = yaml.safe_load((events_dir / "russia-dprk-treaty.yaml").read_text(encoding="utf-8"))
    data.update(id=event_id, title={"en": title, "ru": f"{title} (ru)"}, start=start.strftime("%Y-%m-%d %H:%M"),
                end=(start + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"), speakers=[], moderator=None)
    data.update(changes)
    if data["moderator"] is None:
        del data["moderator"]
    (events_dir / f"{event_id}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram(TOKEN)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chat_env(workdir: Path, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The settings the chat bot runs with, set as the environment would set them."""
    env = {
        "ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN": TOKEN,
        "ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL": fake.base_url,
        "ANNOUNCE_BOT_TARGETS__TELEGRAM__TIMEOUT": "3",
        "ANNOUNCE_BOT_ADMIN__USER_IDS": f"[{ADMIN.id}]",
        "ANNOUNCE_BOT_CHAT__FLOOD_BURST": "12",
        "ANNOUNCE_BOT_CHAT__FLOOD_RATE": "1",
        "ANNOUNCE_BOT_CHAT__PAGE_SIZE": "3",
        "ANNOUNCE_BOT_CHAT__BROADCAST_RATE": "500",
        "ANNOUNCE_BOT_DELIVERY__RATE_LIMIT": "false",  # the rate limits are tested on virtual time
        "ANNOUNCE_BOT_CHAT__REMINDER_SWEEP": "3600",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    events = workdir / "config" / "events"
    write_event(events, "energy-forum", "Energy Security Forum", datetime(2024, 12, 3, 15, 0),
                speakers=[{"name": "Maria Lopez", "position": "Rosatom"}])
    write_event(events, "arctic-talks", "Arctic Talks", datetime(2024, 12, 10, 10, 0))
    write_event(events, "china-session", "China Session", datetime(2024, 12, 17, 12, 0))
    write_event(events, "past-meeting", "Past Meeting", datetime(2024, 10, 1, 12, 0))
    return env


@pytest.fixture
def config(chat_env: dict[str, str], workdir: Path) -> AppConfig:
    return load_config(workdir / "config")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def chat_store(config: AppConfig, tmp_path: Path) -> Store:
    store = Store(open_database(f"sqlite:///{tmp_path / 'chat.db'}"))
    report = import_events(config, store, IMPORTED)
    assert not report.errors
    return store


@pytest.fixture
def runtime(config: AppConfig, chat_store: Store, clock: Clock) -> Runtime:
    """The operations the admin commands act through: /post publishes through the real adapters (Telegram to the
    fake, the platforms without credentials to the outbox)."""
    return Runtime.build(config, store=chat_store, clock=clock, notify=False)


@pytest.fixture
async def bot(runtime: Runtime, chat_store: Store, clock: Clock) -> AsyncIterator[ChatBot]:
    """The real Application polling the fake."""
    running = chat_bot(runtime.live, runtime.operations, clock=clock, poll_timeout=1)
    await running.start()
    yield running
    await running.stop()
    await runtime.aclose()


Say = Callable[..., Any]


@pytest.fixture
def say(fake: FakeTelegram, bot: ChatBot) -> Say:
    """say(user, text, chat=None, count=1): send a message, return the bot's replies in that chat."""

    async def _say(user: User, text: str | None, chat: dict[str, Any] | None = None, count: int = 1,
                   timeout: float = 5.0, **extra: Any) -> list[dict[str, Any]]:
        since = fake.mark()
        fake.send(user, text, chat, **extra)
        return await fake.wait_messages((chat or user.chat)["id"], count, since, timeout)

    return _say


@pytest.fixture
def press(fake: FakeTelegram, bot: ChatBot) -> Say:
    """press(user, message, data, count=1): press a button, return the new messages in the chat."""

    async def _press(user: User, message: dict[str, Any], data: str, count: int = 1,
                     timeout: float = 5.0) -> list[dict[str, Any]]:
        since = fake.mark()
        answers = len(fake.callback_answers)
        fake.press(user, message["message_id"], data)
        await fake.wait_callback_answers(answers + 1, timeout)
        if count:
            return await fake.wait_messages(message["chat_id"], count, since, timeout)
        return []

    return _press


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """The message's inline buttons: label -> callback data (or url)."""
    markup = message.get("reply_markup") or {}
    return {b["text"]: b.get("callback_data") or b.get("url", "") for row in markup.get("inline_keyboard", [])
            for b in row}
