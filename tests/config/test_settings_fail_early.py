"""Settings that would fail at send time are refused when they load: the field named, in plain words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError


def problems(workdir: Path) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config(workdir / "config")
    return refused.value.problems


@pytest.mark.parametrize("url", ["not a url", "ftp://files.example.org/bot", "http://", "api.telegram.org"])
def test_a_target_api_base_url_must_be_http_or_https(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                     url: str) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL", url)
    assert problems(workdir) == [f"targets.telegram.api_base_url: not an http(s) URL: {url!r}"]


def test_good_api_base_urls_load(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__TELEGRAM__API_BASE_URL", "http://127.0.0.1:8081/bot{token}")
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__VK__API_BASE_URL", "https://vk.example.org")
    settings = load_config(workdir / "config").settings
    assert settings.targets["telegram"].api_base_url == "http://127.0.0.1:8081/bot{token}"


@pytest.mark.parametrize(("url", "said"), [
    ("mysql://bot:pw-SECRET@db/announce", "'mysql' is not supported"),
    ("oracle+cx_oracle://bot@db/x", "'oracle+cx_oracle' is not supported"),
    ("var/announce-bot.db", "not a database URL"),
])
def test_an_unsupported_database_is_refused_with_the_supported_ones(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    url: str, said: str) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DATABASE__URL", url)
    (problem,) = problems(workdir)
    assert problem == (f"database.url: {said}; the bot supports SQLite (sqlite:///var/announce-bot.db) or "
                       "PostgreSQL (postgresql+psycopg://user@host/db)")
    assert "SECRET" not in problem


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_plain_postgresql_url_means_the_installed_driver(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                           scheme: str) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_DATABASE__URL", f"{scheme}://bot@db/announce")
    assert load_config(workdir / "config").settings.database.url == "postgresql+psycopg://bot@db/announce"


def test_a_webhook_url_must_be_https(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_CHAT__WEBHOOK_URL", "http://bot.example.org/telegram")
    assert problems(workdir) == [
        "chat.webhook_url: Telegram sends updates to an https:// URL only, got 'http://bot.example.org/telegram'"]


def test_an_unknown_platform_is_named_without_python_internals(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__MASTODON__PLATFORM", "mastodon")
    assert problems(workdir) == [
        "targets.mastodon: unknown platform 'mastodon' (use one of: telegram, vk, x, dzen, max)"]


def test_a_target_without_a_platform(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_TARGETS__EXTRA__LANG", "en")
    assert problems(workdir) == ["targets.extra: platform is missing (use one of: telegram, vk, x, dzen, max)"]


def test_validate_prints_one_line_and_exits_2(workdir: Path) -> None:
    env = {**os.environ, "ANNOUNCE_BOT_TARGETS__X__API_BASE_URL": "ftp://x", "COLUMNS": "300"}
    result = subprocess.run([sys.executable, "-m", "bot", "validate"], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith("targets.x.api_base_url: not an http(s) URL: 'ftp://x'")
    assert "Value error" not in line


@pytest.mark.parametrize(("variable", "field"), [
    ("ANNOUNCE_BOT_TARGETS__TELEGRAM__TOKEN_FILE", "targets.telegram.token_file"),
    ("ANNOUNCE_BOT_TARGETS__X__CONSUMER_SECRET_FILE", "targets.x.consumer_secret_file"),
    ("ANNOUNCE_BOT_CHAT__WEBHOOK_SECRET_FILE", "chat.webhook_secret_file"),
    ("ANNOUNCE_BOT_WEB__PASSWORD_FILE", "web.password_file"),
])
def test_a_secret_file_that_cannot_be_read_is_refused_at_load(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                              variable: str, field: str) -> None:
    """Before, the first use raised a ValueError with a traceback (for the dashboard password: `status` too)."""
    missing = workdir / "secrets" / "nowhere"
    monkeypatch.setenv(variable, str(missing))
    assert problems(workdir) == [f"{field}: cannot read {str(missing)!r}: No such file or directory"]
