"""Settings: environment overrides, secrets only from the environment or files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.config.settings import TelegramTarget
from bot.errors import ConfigError


def test_defaults_need_no_credentials(workdir: Path) -> None:
    config = load_config(workdir / "config")
    assert config.settings.database.url == "sqlite:///var/announce-bot.db"
    assert {t.platform.value for t in config.settings.targets.values()} == {"telegram", "vk", "x", "dzen"}
    assert not config.settings.targets["telegram"].has_credentials
    assert config.settings.all_secrets() == []
    assert config.templates_dir == workdir / "templates"


def test_environment_overrides_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DATABASE__URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__CHAT_ID", "-100123")
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN", "123:secret-from-env")
    settings = load_config(workdir / "config").settings
    assert settings.database.url == "sqlite:///elsewhere.db"
    target = settings.targets["telegram"]
    assert isinstance(target, TelegramTarget)
    assert target.chat_id == "-100123"
    assert target.secret("token") == "123:secret-from-env"
    assert "secret-from-env" not in repr(settings)  # SecretStr hides it
    assert settings.all_secrets() == ["123:secret-from-env"]


def test_secret_from_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = workdir / "tg-token"
    secret.write_text("456:from-file\n")
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN_FILE", str(secret))
    target = load_config(workdir / "config").settings.targets["telegram"]
    assert target.secret("token") == "456:from-file"
    assert target.has_credentials


def test_secret_in_settings_file_is_refused(workdir: Path) -> None:
    path = workdir / "config" / "settings.toml"
    path.write_text(path.read_text().replace('chat_id = "@valdaiclub"', 'chat_id = "@valdaiclub"\ntoken = "1:abc"'))
    with pytest.raises(ConfigError) as info:
        load_config(workdir / "config")
    message = str(info.value)
    assert "targets.telegram.token: secrets must not be written in settings" in message
    assert "ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN" in message
    assert "1:abc" not in message


def test_invalid_value_names_the_field(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__VK__GROUP_ID", "minus-one")
    with pytest.raises(ConfigError) as info:
        load_config(workdir / "config")
    assert "targets.vk.group_id" in str(info.value)


def test_other_config_folder_with_its_own_templates(tmp_path: Path, workdir: Path) -> None:
    other = tmp_path / "elsewhere" / "conf"
    other.parent.mkdir()
    (workdir / "config").rename(other)
    (workdir / "templates").rename(other / "templates")
    config = load_config(other)
    assert config.templates_dir == other / "templates"
    assert config.events_dir == other / "events"
