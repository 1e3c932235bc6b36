"""The [web] settings: defaults, overrides, and the password only from the environment or a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError


def test_defaults_listen_on_loopback_and_lock_the_dashboard(workdir: Path) -> None:
    web = load_config(workdir / "config").settings.web
    assert (web.enabled, web.host, web.port) == (True, "127.0.0.1", 8080)
    assert web.secret() is None


def test_password_from_the_environment_is_a_secret(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PASSWORD", " s3cret-pass\n")
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__PORT", "9090")
    settings = load_config(workdir / "config").settings
    assert settings.web.secret() == "s3cret-pass" and settings.web.port == 9090
    assert "s3cret-pass" not in repr(settings)
    assert "s3cret-pass" in settings.all_secrets()  # scrubbed from logs like the platform tokens


def test_password_from_a_file(workdir: Path) -> None:
    (workdir / "web-password").write_text("from-a-file\n")
    path = workdir / "config" / "settings.toml"
    path.write_text(path.read_text() + '\n[web]\nport = 8181\npassword_file = "web-password"\n')
    web = load_config(workdir / "config").settings.web
    assert web.secret() == "from-a-file" and web.port == 8181


def test_an_unreadable_password_file_is_an_error(workdir: Path) -> None:
    path = workdir / "config" / "settings.toml"
    path.write_text(path.read_text() + '\n[web]\npassword_file = "missing"\n')
    with pytest.raises(ConfigError, match=r"web\.password_file: cannot read 'missing'"):  # at load, not first use
        load_config(workdir / "config")


def test_a_password_in_settings_toml_is_refused(workdir: Path) -> None:
    path = workdir / "config" / "settings.toml"
    path.write_text(path.read_text() + '\n[web]\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as info:
        load_config(workdir / "config")
    assert "web.password: secrets must not be written in settings" in str(info.value)
    assert "ANNOUNCE_BOT_WEB__PASSWORD" in str(info.value)
