"""The [web] security settings: secrets only from the environment or a file, proxies as addresses, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.web.support import SiteFactory


def _append(workdir: Path, text: str) -> None:
    path = workdir / "config" / "settings.toml"
    path.write_text(path.read_text() + "\n[web]\n" + text + "\n")


@pytest.mark.parametrize("key", ["session_key", "health_token", "metrics_token"])
def test_a_secret_in_settings_toml_is_refused(workdir: Path, key: str) -> None:
    _append(workdir, f'{key} = "written-in-the-file-by-mistake"')
    with pytest.raises(ConfigError) as info:
        load_config(workdir / "config")
    assert f"web.{key}: secrets must not be written in settings" in str(info.value)
    assert f"ANNOUNCE_BOT_WEB__{key.upper()}" in str(info.value)


def test_secrets_from_files_are_read_and_scrubbed(workdir: Path) -> None:
    (workdir / "health").write_text("health-token-from-a-file\n")
    (workdir / "key").write_text("k" * 48 + "\n")
    _append(workdir, 'health_token_file = "health"\nsession_key_file = "key"\nmetrics_token_file = "missing"')
    web = load_config(workdir / "config").settings.web
    assert web.secret_value("health_token") == "health-token-from-a-file"
    assert web.secret_value("session_key") == "k" * 48
    with pytest.raises(ValueError, match="cannot read metrics_token_file"):
        web.secrets()


def test_trusted_proxies_are_addresses_or_networks(workdir: Path) -> None:
    _append(workdir, 'trusted_proxies = ["10.0.0.0/8", "127.0.0.1", "::1"]')
    proxies = load_config(workdir / "config").settings.web.trusted_proxies
    assert [str(p) for p in proxies] == ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]
    (workdir / "config" / "settings.toml").write_text('[web]\ntrusted_proxies = ["the-proxy"]\n')
    with pytest.raises(ConfigError, match=r"web\.trusted_proxies"):
        load_config(workdir / "config")


def test_a_short_session_key_is_refused_when_the_app_starts(
    monkeypatch: pytest.MonkeyPatch, make_site: SiteFactory
) -> None:
    monkeypatch.setenv("ANNOUNCE_BOT_WEB__SESSION_KEY", "too-short")
    with pytest.raises(ValueError, match="session_key: use at least 32 random characters"):
        make_site()
