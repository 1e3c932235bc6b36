"""The running configuration's one owner: every service reads it when it acts; a reload swaps it whole or not at all."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bot.config.loader import AppConfig, load_config
from bot.errors import ConfigError

log = logging.getLogger(__name__)

Check = Callable[[AppConfig], list[str]]  # problems that make a configuration unusable (templates that fail...)
Listener = Callable[[AppConfig, AppConfig], None]  # (old, new), after a swap


class LiveConfig:
    """Holds the configuration in use. Services keep this object, never a copy of what it holds, so a reload
    (Telegram /reload, SIGHUP, the dashboard, a changed file) reaches the scheduler, the publisher, the chat bot
    and the web app at the same moment. A reload is validated whole first: a bad one is refused with its
    message, and the running configuration stays."""

    def __init__(self, config: AppConfig, *, check: Check | None = None) -> None:
        self._config = config
        self._check = check
        self._listeners: list[Listener] = []
        self.version = 1
        self._stamp = self._disk_stamp(config)

    @property
    def current(self) -> AppConfig:
        return self._config

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def reload(self) -> AppConfig:
        """Read the config folder again; swap it in if it is whole. Raises ConfigError (nothing changes)."""
        new = load_config(self._config.config_dir)
        if self._check is not None and (problems := self._check(new)):
            raise ConfigError(str(new.config_dir), problems)
        self.swap(new)
        return new

    def swap(self, new: AppConfig) -> None:
        old, self._config = self._config, new
        self.version += 1
        self._stamp = self._disk_stamp(new)
        for listener in self._listeners:
            listener(old, new)
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
