"""The `announce-bot` command line: parses arguments, calls the operations layer, prints what came back. One module
per group of commands; each loads the bot's heavy parts only when it runs, so that `--help` answers at once."""

from __future__ import annotations

from bot.cli import checking, drafting, listing, posting, previewing, reporting, running, users  # noqa: F401
from bot.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]
