"""One process's parts follow a reload: the scheduler's intervals, the admin chat of alerts, a rotated token file;
what only a restart applies is named by `reload`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.domain import Event, PostKind
from bot.errors import CredentialsError
from bot.runtime import Runtime
from tests.fakes.telegram import FakeTelegram

SETTINGS = Path("config") / "settings.toml"


def append(text: str) -> None:
    SETTINGS.write_text(SETTINGS.read_text() + "\n" + text + "\n")


async def test_a_reload_names_the_changed_settings_that_wait_for_a_restart(workdir: Path) -> None:
    runtime = Runtime.build(load_config(Path("config")), notify=False)
    append("[chat]\nbroadcast_rate = 10\npaid_broadcast = true\npage_size = 3\n[delivery]\nsweep_interval = 5")
    result = await runtime.operations.reload(actor="test")
    assert result.ok and result.restart == ("[chat] broadcast_rate", "[chat] paid_broadcast")
    assert result.message.endswith("; restart to apply: [chat] broadcast_rate, [chat] paid_broadcast")
    assert runtime.config.settings.chat.page_size == 3  # the rest is in use at once
    unchanged = await runtime.operations.reload()
    assert unchanged.ok and unchanged.restart == () and "restart" not in unchanged.message
    await runtime.aclose()


async def test_the_periodic_jobs_run_at_the_intervals_a_reload_brings(workdir: Path) -> None:
    runtime = Runtime.build(load_config(Path("config")), notify=False, schedules=True)

    async def nothing() -> None:
        pass

    dispatcher = runtime.dispatcher
    await dispatcher.start([("sources", lambda settings: settings.delivery.reimport_interval, nothing),
                            ("reach", lambda settings: settings.reach.sweep_interval, nothing)])
    scheduler = dispatcher.scheduler
    assert scheduler is not None

    def intervals() -> dict[str, timedelta]:
        return {job.id: job.trigger.interval for job in scheduler.get_jobs() if job.id != "wake"}

    assert intervals() == {"sweep": timedelta(seconds=15), "sources": timedelta(seconds=10),
                           "reach": timedelta(seconds=300)}
    append("[delivery]\nsweep_interval = 2\nreimport_interval = 30\n[reach]\nsweep_interval = 60")
    result = await runtime.operations.reload()
    assert result.ok and result.restart == ()  # nothing waits for a restart: the jobs were re-armed
    assert intervals() == {"sweep": timedelta(seconds=2), "sources": timedelta(seconds=30),
                           "reach": timedelta(seconds=60)}
    await dispatcher.stop()


@pytest.fixture
def telegram(workdir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    fake = FakeTelegram("123:NEW-SECRET-token").start()
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL", fake.base_url)
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TIMEOUT", "5")
    yield fake
    fake.stop()


async def test_alerts_go_to_the_admin_chat_a_reload_names(telegram: FakeTelegram,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN", telegram.token)
    runtime = Runtime.build(load_config(Path("config")))
    await runtime.alerts("before: no admin chat yet")
    monkeypatch.setenv("ANNOUNCE_BOT_ADMIN__CHAT_ID", "4242")
    assert (await runtime.operations.reload()).ok
    await runtime.alerts("after the reload")
    # The alert reached Telegram for the new chat (the fake keeps only HTML messages; alerts are plain text).
    assert [(c.params["chat_id"], c.params["text"]) for c in telegram.calls("sendMessage")] == [
        ("4242", "after the reload")]
    await runtime.aclose()


async def test_a_token_file_rotated_before_a_reload_is_the_one_posts_use(
    telegram: FakeTelegram, workdir: Path, reference_event: Event
) -> None:
    token_file = workdir / "telegram-token"
    token_file.write_text("123:OLD-SECRET-token\n")
    settings = SETTINGS.read_text().replace('chat_id = "@valdaiclub"\n',
                                            'chat_id = "@valdaiclub"\ntoken_file = "telegram-token"\n', 1)
    SETTINGS.write_text(settings)
    runtime = Runtime.build(load_config(Path("config")), notify=False)
    post = runtime.publisher.render(reference_event, PostKind.ANNOUNCEMENT, "telegram")
    with pytest.raises(CredentialsError):  # Telegram no longer knows the old token
        await runtime.publisher.adapter("telegram").publish(post)
    token_file.write_text(f"{telegram.token}\n")  # the file is the same; what is in it is new
    assert (await runtime.operations.reload()).ok
    receipt = await runtime.publisher.adapter("telegram").publish(post)
    assert receipt.post_id and len(telegram.messages) == len(post.parts)
    await runtime.aclose()
