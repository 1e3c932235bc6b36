"""A guard for the whole suite: the bot's own code never runs a database query on a thread whose event loop is
running. The web app, the chat bot and the dispatcher share one loop; one slow query there stalls sending,
replying and serving together, so storage work goes through worker threads (asyncio.to_thread).

A test may query the store directly from an async test (it is not the bot); what is caught is a query whose
nearest caller outside storage and SQLAlchemy is a module of the bot."""

from __future__ import annotations

import asyncio
import inspect
import sys
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_PASS_THROUGH = ("sqlalchemy", "bot.storage", "contextlib", "alembic")


@dataclass
class LoopGuard:
    """Queries from the bot's code found on a running loop's thread, as `module:line (function)`."""

    found: list[str] = field(default_factory=list)

    def check(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop runs in this thread: a worker thread, a CLI command, a plain test
        # Only a coroutine of the bot's counts (a handler, the dispatcher): a test may call the bot's synchronous
        # functions from an async test.
        frame = sys._getframe(2)
        where = None
        while frame is not None:
            module = str(frame.f_globals.get("__name__", ""))
            if module.startswith("bot.") and not module.startswith(_PASS_THROUGH):
                where = where or f"{module}:{frame.f_lineno} ({frame.f_code.co_name})"
                if frame.f_code.co_flags & (inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
                    self.found.append(where if where.startswith(module) else f"{where} in {module}")
                    return
            frame = frame.f_back


GUARD = LoopGuard()


def _before(*_: Any) -> None:
    GUARD.check()


def install() -> None:
    """Watch every engine's queries (once per process)."""
    if not event.contains(Engine, "before_cursor_execute", _before):
        event.listen(Engine, "before_cursor_execute", _before)
