"""The running configuration: subscribers before and after a swap, and the settings that wait for a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import AppConfig, load_config
from bot.config.live import RESTART_ONLY, LiveConfig, restart_needed
from bot.config.settings import ChatSettings, Settings, TelegramTarget, WebSettings


def test_a_preparer_runs_before_the_swap_and_a_listener_after_it(workdir: Path) -> None:
    live = LiveConfig(load_config(Path("config")))
    first = live.current
    seen: list[tuple[str, bool]] = []
    live.subscribe(lambda old, new: seen.append(("before", live.current is old)), before=True)
    live.subscribe(lambda old, new: seen.append(("after", live.current is new)))
    live.reload()
    assert seen == [("before", True), ("after", True)] and live.current is not first


def test_a_failing_listener_neither_undoes_the_swap_nor_stops_the_others(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = LiveConfig(load_config(Path("config")))
    reached: list[AppConfig] = []

    def broken(old: AppConfig, new: AppConfig) -> None:
        raise RuntimeError("cannot follow")

    live.subscribe(broken)
    live.subscribe(lambda old, new: reached.append(new))
    new = live.reload()
    assert live.current is new and reached == [new]
    assert "failed" in caplog.text and "cannot follow" in caplog.text


def test_every_restart_only_setting_is_read_from_the_settings() -> None:
    defaults = Settings()
    assert restart_needed(defaults, defaults) == []
    for name, read in RESTART_ONLY.items():
        read(defaults)  # a name that no longer exists would raise here
        assert name.startswith(("[database]", "[logging]", "[delivery]", "[chat]", "[web]")), name


@pytest.mark.parametrize(("change", "named"), [
    ({"chat": ChatSettings(broadcast_rate=10)}, ["[chat] broadcast_rate"]),
    ({"chat": ChatSettings(paid_broadcast=True, broadcast_rate=100)},
     ["[chat] broadcast_rate", "[chat] paid_broadcast"]),
    ({"web": WebSettings(port=9000, password=SecretStr("a new password"))}, ["[web] port", "[web] password"]),
    ({"web": WebSettings(public_url="https://events.example.org")}, ["[web] public_url's scheme"]),
    ({"web": WebSettings(public_url="http://events.example.org")}, []),  # links follow; the cookie stays plain
    ({"targets": {"telegram": TelegramTarget(platform="telegram", chat_id="@c", token=SecretStr("123:new"))}},
     ["[chat] bot_target's token, api_base_url or timeout"]),
    ({"chat": ChatSettings(page_size=3, reminder_sweep=5)}, []),  # read when used
])
def test_a_change_names_exactly_the_restart_only_settings_it_touches(change: dict[str, object],
                                                                     named: list[str]) -> None:
    before = Settings(targets={"telegram": TelegramTarget(platform="telegram", chat_id="@c")})
    after = before.model_copy(update=change)
    assert restart_needed(before, after) == named
