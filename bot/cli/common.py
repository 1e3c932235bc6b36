"""What every command shares: the app, the consoles, the config and store as a command opens them, and small
printing helpers. Only light imports here: `announce-bot --help` starts at once (heavy parts load per command)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from bot.clock import utc_text
from bot.domain import Event, pick
from bot.errors import AnnounceBotError

if TYPE_CHECKING:
    from bot.config import AppConfig
    from bot.runtime import Runtime
    from bot.storage import Store


app = typer.Typer(help="Announces public events on every platform, on time.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
# Piped output is read by scripts: never cut an id or a link to fit 80 columns.
# markup=False: texts such as "[web] public_url" are printed as written, never read as styles.
console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 100_000)
errors = Console(stderr=True, highlight=False, markup=False, width=None if sys.stderr.isatty() else 100_000)

JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON document (stable field names) instead")]


@dataclass
class State:
    config_dir: Path
    log_level: str
    on_close: Callable[[Callable[[], None]], object] = lambda _: None  # the command's context's call_on_close
    _config: AppConfig | None = None

    @property
    def config(self) -> AppConfig:
        from bot import logs
        from bot.config import load_config
        from bot.errors import ConfigError

        if self._config is None:
            try:
                config = load_config(self.config_dir)
            except ConfigError as exc:
                raise fail(exc) from None
            log_settings = config.settings.logging
            logs.configure(log_settings.level or self.log_level, config.settings.all_secrets(),
                           json_lines=log_settings.format == "json")
            self._config = config
        return self._config

    def store(self, *, create: bool = True, exclusive: bool = False) -> Store | None:
        """The database. For a command that only reads, None when it does not exist yet (it is not created);
        `exclusive` (run, web): refused if another such process holds this SQLite file."""
        from bot.runtime import database_exists
        from bot.storage import Store, open_database
        from bot.storage.database import DatabaseUnavailable, hold_process_lock

        database = self.config.settings.database
        if not create and not database_exists(database.url):
            return None
        try:
            if exclusive and (lock := hold_process_lock(database.url)) is not None:
                self.on_close(lock.release)  # held while the command runs (a process runs one command)
            return Store(open_database(database.url, echo=database.echo))
        except DatabaseUnavailable as exc:
            raise fail(exc) from None

    def runtime(self, *, exclusive: bool = False, **kwargs: Any) -> Runtime:
        from bot.runtime import Runtime

        store = self.store(exclusive=exclusive)
        assert store is not None
        return Runtime.build(self.config, store=store, **kwargs)


def fail(exc: AnnounceBotError, code: int = 2) -> typer.Exit:
    errors.print(Text(f"error: {exc}", style="red"))
    return typer.Exit(code)


def state_of(ctx: typer.Context) -> State:
    state: State = ctx.obj
    return state


def print_json(data: object) -> None:
    console.out(json.dumps(data, ensure_ascii=False, indent=2, default=str), highlight=False)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="the config folder")] = Path("config"),
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "WARNING",
) -> None:
    ctx.obj = State(config_dir=config, log_level=log_level.upper(), on_close=ctx.call_on_close)


def local(moment: datetime, event: Event) -> str:
    """In the event's zone, named unambiguously ("GMT+8", never a bare "CST")."""
    from bot.rendering.context import zone_label

    shown = moment.astimezone(event.zone)
    return f"{shown:%Y-%m-%d %H:%M} {zone_label(shown)}"


utc = utc_text


def title(event: Event) -> str:
    return pick(event.title, event.lang, event.lang)
