"""Webhook mode: the bot registers its URL and secret, and its server refuses requests without the right secret."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.chat import ChatBot, ChatUnavailable, chat_bot
from bot.config import load_config
from bot.config.live import LiveConfig
from bot.runtime import Runtime
from tests.chat.conftest import ANNA, Clock
from tests.fakes.telegram import FakeTelegram

SECRET = "s3cret_Token-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def port(chat_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    chosen = free_port()
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__MODE", "webhook")
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_URL", "https://bot.example.org/hook")
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_PORT", str(chosen))
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_PATH", "hook")
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_SECRET", SECRET)
    return chosen


@pytest.fixture
async def webhook_bot(port: int, workdir: Path, runtime: Runtime, clock: Clock) -> AsyncIterator[ChatBot]:
    running = chat_bot(LiveConfig(load_config(workdir / "config")), runtime.operations, clock=clock)
    await running.start()
    yield running
    await running.stop()


def update(fake: FakeTelegram, text: str) -> bytes:
    return json.dumps({"update_id": 77, "message": fake.user_message(ANNA, text)}).encode()


async def test_webhook_registers_and_checks_the_secret_on_every_request(
    webhook_bot: ChatBot, fake: FakeTelegram, port: int
) -> None:
    assert fake.webhook["url"] == "https://bot.example.org/hook"
    assert fake.webhook["secret_token"] == SECRET
    assert fake.calls("getUpdates") == []  # no polling in webhook mode
    url = f"http://127.0.0.1:{port}/hook"
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        wrong = await client.post(url, content=update(fake, "/help"),
                                  headers={**headers, "X-Telegram-Bot-Api-Secret-Token": "guess"})
        missing = await client.post(url, content=update(fake, "/help"), headers=headers)
        assert (wrong.status_code, missing.status_code) == (403, 403)
        assert not await fake.until(lambda: bool(fake.in_chat(ANNA.id)), timeout=0.5)  # refused: no answer
        right = await client.post(url, content=update(fake, "/help"),
                                  headers={**headers, "X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert right.status_code == 200
    (answer,) = await fake.wait_messages(ANNA.id)
    assert "What I can do" in answer["text"]


async def test_webhook_mode_needs_a_secret_and_a_url(
    chat_env: dict[str, str], workdir: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__MODE", "webhook")
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_URL", "https://bot.example.org/hook")
    with pytest.raises(ChatUnavailable, match="webhook_secret"):
        chat_bot(LiveConfig(load_config(workdir / "config")), runtime.operations)
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_SECRET", "has spaces!")
    with pytest.raises(ChatUnavailable, match="webhook_secret"):
        chat_bot(LiveConfig(load_config(workdir / "config")), runtime.operations)
    monkeypatch.delenv("ANNOUNCE_BOT_CHAT__WEBHOOK_URL")
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_SECRET", SECRET)
    with pytest.raises(ChatUnavailable, match="webhook_url"):
        chat_bot(LiveConfig(load_config(workdir / "config")), runtime.operations)


async def test_secret_in_settings_file_is_refused(chat_env: dict[str, str], workdir: Path) -> None:
    from bot.errors import ConfigError

    settings = workdir / "config" / "settings.toml"
    settings.write_text(settings.read_text() + '\n[chat]\nwebhook_secret = "abc"\n')
    with pytest.raises(ConfigError, match="ANNOUNCE_BOT_CHAT__WEBHOOK_SECRET"):
        load_config(workdir / "config")


async def test_no_token_means_no_chat_bot(workdir: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                          chat_env: dict[str, str]) -> None:
    monkeypatch.delenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN")
    with pytest.raises(ChatUnavailable, match="no bot token"):
        chat_bot(LiveConfig(load_config(workdir / "config")), runtime.operations)
