"""The chat bot in the command line: `run` starts it beside the scheduler, `status` shows reminder progress."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import AppConfig, load_config
from bot.delivery import Outcome
from bot.domain import ReminderState
from bot.importing import import_events
from bot.runtime import Runtime, Service
from bot.storage import Store, open_database
from bot.storage.chat import ChatStore
from bot.storage.reminders import Progress, ReminderQueue, Settled
from tests.chat.conftest import ANNA
from tests.fakes.telegram import FakeTelegram

REF = "russia-dprk-treaty"


def test_status_shows_personal_reminder_progress(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    config = load_config(workdir / "config")
    store = Store(open_database(config.settings.database.url))
    import_events(config, store, datetime(2024, 11, 1, tzinfo=UTC))
    chats = ChatStore(store.sessions)
    for user_id in (11, 12, 13):
        chats.subscribe(user_id, user_id, "en", None)
    queue = ReminderQueue(store.sessions)
    now = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)
    assert queue.enqueue(REF, "reminder-1d", "reminder", now, now) == 3
    (row, *_) = queue.claim(now, "w", 1)
    queue.sending(row.id, "w")
    queue.settle("w", [Settled(row_id=row.id, state=ReminderState.SENT, message_id=5)])
    result = CliRunner().invoke(app, ["--config", "config", "status"])
    assert result.exit_code == 0, result.output
    assert "personal reminders" in result.output
    line = next(line for line in result.output.splitlines() if "reminder-1d" in line and "1/3" in line)
    assert REF in line


class Lines:
    """A reporter that keeps what the running bot says."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.warned: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)

    def warn(self, text: str) -> None:
        self.warned.append(text)

    def outcome(self, outcome: Outcome) -> None:
        pass

    def progress(self, items: list[Progress]) -> None:
        pass


def _service(config: AppConfig, store: Store) -> tuple[Service, Lines]:
    lines = Lines()
    return Service(Runtime.build(config, store=store, notify=False), lines), lines


async def test_run_starts_the_chat_bot_when_the_target_has_a_token(
    config: AppConfig, chat_store: Store, fake: FakeTelegram
) -> None:
    service, lines = _service(config, chat_store)
    chat = await service._start_chat()
    assert chat is not None
    assert "CHAT-secret-token" not in repr(chat)  # PTB's own repr of the Application would show it
    try:
        since = fake.mark()
        fake.send(ANNA, "/help")
        (reply,) = await fake.wait_messages(ANNA.id, 1, since)
        assert "What I can do" in reply["text"]
    finally:
        await chat.stop()
        await service.runtime.aclose()
    assert "chat bot @announce_test_bot answers people (polling)" in lines.said


async def test_run_without_a_token_leaves_the_chat_bot_off(
    workdir: Path, chat_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN")
    service, lines = _service(load_config(workdir / "config"), chat_store)  # as the embedded defaults: no token
    assert await service._start_chat() is None
    assert "chat bot off: Telegram target 'telegram' has no bot token" in lines.said


async def test_a_rejected_token_does_not_stop_the_bot(config: AppConfig, chat_store: Store, fake: FakeTelegram) -> None:
    fake.token = "another:token"  # Telegram rejects ours
    service, lines = _service(config, chat_store)
    assert await service._start_chat() is None
    assert "the chat bot did not start: InvalidToken" in lines.warned
    assert not [line for line in lines.said + lines.warned if "CHAT-secret-token" in line]
