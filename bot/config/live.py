"""The running configuration's one owner: every service reads it when it acts; a reload swaps it whole or not at all."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bot.config.loader import AppConfig, load_config
from bot.config.settings import Settings
from bot.errors import ConfigError

log = logging.getLogger(__name__)

Check = Callable[[AppConfig], list[str]]  # problems that make a configuration unusable (templates that fail...)
Listener = Callable[[AppConfig, AppConfig], None]  # (old, new), after a swap
Reader = Callable[[Settings], object]


def _field(section: str, key: str) -> Reader:
    return lambda settings: getattr(getattr(settings, section), key)


def _web_secret(key: str) -> Reader:
    return lambda settings: settings.web.secret_value(key)


def _token(settings: Settings, target: str) -> tuple[object, ...]:
    """What a bot built at start keeps of a Telegram target: its token, server and timeout."""
    found = settings.targets.get(target)
    return (found.secrets().get("token"), found.api_base_url, found.timeout) if found is not None else ()


# Every setting that a reload does not reach: each is read once, when the process starts the part that uses it.
# Every other setting is read when it is used, or re-armed by a subscriber (the scheduler's job intervals, the
# admin chat of alerts, the scrubber's secrets); `reload` names those of these that changed ("restart to apply").
RESTART_ONLY: dict[str, Reader] = {
    # The database and the log set-up are opened before anything else.
    "[database] url": lambda s: s.database.url,
    "[database] echo": lambda s: s.database.echo,
    "[logging] format": lambda s: s.logging.format,
    "[logging] level": lambda s: s.logging.level,
    # Each token's rate limits are made once (bot/delivery.py).
    "[delivery] rate_limit": lambda s: s.delivery.rate_limit,
    # The chat bot is built when it starts (bot/chat): its bot, webhook, flood throttle and broadcast pace.
    **{f"[chat] {key}": _field("chat", key) for key in (
        "enabled", "bot_target", "mode", "webhook_url", "webhook_listen", "webhook_port", "webhook_path",
        "flood_burst", "flood_rate", "broadcast_rate", "paid_broadcast")},
    "[chat] webhook_secret": lambda s: s.chat.secret(),
    "[chat] bot_target's token, api_base_url or timeout": lambda s: _token(s, s.chat.bot_target),
    # The web app is built when it starts (bot/web): its server, sessions, sign-in and bearer tokens.
    **{f"[web] {key}": _field("web", key) for key in (
        "enabled", "host", "port", "session_hours", "trusted_proxies", "login_delay", "login_delay_max",
        "login_memory", "telegram_login", "telegram_login_target", "telegram_login_max_age")},
    **{f"[web] {key}": _web_secret(key) for key in (
        "password", "session_key", "health_token", "metrics_token")},
    "[web] public_url's scheme": lambda s: (s.web.public_url or "").startswith("https://"),  # cookies' Secure flag
    "[web] telegram_login_target's token":
        lambda s: _token(s, s.web.telegram_login_target)[:1] if s.web.telegram_login else (),
}


def restart_needed(old: Settings, new: Settings) -> list[str]:
    """The settings in RESTART_ONLY that differ between `old` and `new`: a reload swapped them in, but the parts
    that use them keep what they read at start."""
    return [name for name, read in RESTART_ONLY.items() if _read(read, old) != _read(read, new)]


def _read(read: Reader, settings: Settings) -> object:
    try:
        return read(settings)
    except ValueError as exc:  # a secret's file that cannot be read any more: that is a change too
        return f"unreadable: {exc}"


class LiveConfig:
    """Holds the configuration in use. Services keep this object, never a copy of what it holds, so a reload
    (Telegram /reload, SIGHUP, the dashboard, a changed file) reaches the scheduler, the publisher, the chat bot
    and the web app at the same moment. A reload is validated whole first: a bad one is refused with its
    message, and the running configuration stays."""

    def __init__(self, config: AppConfig, *, check: Check | None = None) -> None:
        self._config = config
        self._check = check
        self._listeners: list[Listener] = []
        self._preparers: list[Listener] = []
        self.version = 1
        self._stamp = self._disk_stamp(config)

    @property
    def current(self) -> AppConfig:
        return self._config

    def subscribe(self, listener: Listener, *, before: bool = False) -> None:
        """Call `listener(old, new)` at every swap: after it, or with `before` just before the new configuration
        can be used (the log scrubber learns a reload's new secrets then)."""
        (self._preparers if before else self._listeners).append(listener)

    def reload(self) -> AppConfig:
        """Read the config folder again; swap it in if it is whole. Raises ConfigError (nothing changes)."""
        new = load_config(self._config.config_dir)
        if self._check is not None and (problems := self._check(new)):
            raise ConfigError(str(new.config_dir), problems)
        self.swap(new)
        return new

    def swap(self, new: AppConfig) -> None:
        for prepare in self._preparers:
            prepare(self._config, new)
        old, self._config = self._config, new
        self.version += 1
        self._stamp = self._disk_stamp(new)
        for listener in self._listeners:
            try:
                listener(old, new)
            except Exception:  # the new configuration is in use: one part failing to follow it stops no other
                log.exception("after the reload of %s, %r failed", new.config_dir, listener)
        log.info("configuration %s reloaded (version %d)", new.config_dir, self.version)

    def changed_on_disk(self) -> bool:
        """Whether settings, campaign or templates changed since they were read (the event files are watched
        separately: they are a source of events, not configuration)."""
        return self._disk_stamp(self._config) != self._stamp

    @staticmethod
    def _disk_stamp(config: AppConfig) -> tuple[tuple[str, int, int], ...]:
        paths: list[Path] = [config.config_dir / "settings.toml", config.config_dir / "campaign.yaml"]
        if config.templates_dir.is_dir():
            paths += sorted(p for p in config.templates_dir.rglob("*.j2") if p.is_file())
        stamp = []
        for path in paths:
            try:
                status = path.stat()
            except OSError:
                continue
            stamp.append((str(path), status.st_mtime_ns, status.st_size))
        return tuple(stamp)
