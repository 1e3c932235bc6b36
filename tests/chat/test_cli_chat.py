"""The chat bot in the command line: `run` starts it beside the scheduler, `status` shows reminder progress."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.alerts import Alerts
from bot.chat.broadcast import ReminderQueue
from bot.storage.chat import ChatStore
from bot.cli import _start_chat, app
from bot.config import AppConfig, load_config
from bot.delivery import Publisher
from bot.importing import import_events
from bot.rendering.renderer import Renderer
from bot.scheduling import Dispatcher
from bot.storage import Claims, Store, open_database
from tests.chat.conftest import ANNA
from tests.fakes.telegram import FakeTelegram

REF = "russia-dprk-treaty"


def test_status_shows_personal_reminder_progress(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    config = load_config(workdir / "config")
    store = Store(open_database(config.settings.database.url))
    import_events(config, store)
    chats = ChatStore(store.sessions)
    for user_id in (11, 12, 13):
        chats.subscribe(user_id, user_id, "en", None)
    queue = ReminderQueue(store.sessions)
    now = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)
    assert queue.enqueue(REF, "reminder-1d", "reminder", now, now) == 3
    (row, *_) = queue.claim(now, "w", 1)
    queue.sending(row.id, "w")
    queue.finish(row.id, "w", "sent", message_id=5)
    result = CliRunner().invoke(app, ["--config", "config", "status"])
    assert result.exit_code == 0, result.output
    assert "personal reminders" in result.output
    line = next(line for line in result.output.splitlines() if "reminder-1d" in line and "1/3" in line)
    assert REF in line


async def _chat_for(config: AppConfig, store: Store) -> tuple[Dispatcher, Publisher]:
    publisher = Publisher(config, store, Renderer(config.templates_dir))
    return Dispatcher(config, store, Claims(store.sessions), publisher, Alerts(), reimport=False), publisher


async def test_run_starts_the_chat_bot_when_the_target_has_a_token(
    config: AppConfig, chat_store: Store, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    dispatcher, publisher = await _chat_for(config, chat_store)
    chat = await _start_chat(config, chat_store, publisher, Alerts(), dispatcher)
    assert chat is not None
    assert "CHAT-secret-token" not in repr(chat)  # PTB's own repr of the Application would show it
    try:
        since = fake.mark()
        fake.send(ANNA, "/help")
        (reply,) = await fake.wait_messages(ANNA.id, 1, since)
        assert "What I can do" in reply["text"]
    finally:
        await chat.stop()
        await publisher.aclose()
    assert "chat bot @announce_test_bot answers people (polling)" in capsys.readouterr().out


async def test_run_without_a_token_leaves_the_chat_bot_off(
    workdir: Path, chat_store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN")
    config = load_config(workdir / "config")  # as the embedded defaults: no token
    dispatcher, publisher = await _chat_for(config, chat_store)
    assert await _start_chat(config, chat_store, publisher, Alerts(), dispatcher) is None
    assert "chat bot off: Telegram target 'telegram' has no bot token" in capsys.readouterr().out


async def test_a_rejected_token_does_not_stop_the_bot(
    config: AppConfig, chat_store: Store, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.token = "another:token"  # Telegram rejects ours
    dispatcher, publisher = await _chat_for(config, chat_store)
    assert await _start_chat(config, chat_store, publisher, Alerts(), dispatcher) is None
    captured = capsys.readouterr()
    assert "the chat bot did not start: InvalidToken" in captured.err
    assert "CHAT-secret-token" not in captured.err + captured.out
