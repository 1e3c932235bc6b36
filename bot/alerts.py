"""Tells the organiser about failures that need a person: always in the log, and in an admin chat if set."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("announce_bot.alerts")

Notify = Callable[[str], Awaitable[None]]


class Alerts:
    """Sends each alert to the log and to `notify` (the admin Telegram chat); a failing chat loses nothing."""

    def __init__(self, notify: Notify | None = None) -> None:
        self._notify = notify
        self.sent: list[str] = []  # what was raised this run, newest last: shown by the status views

    def redirect(self, notify: Notify | None) -> None:
        """Send the alerts from now on to `notify` (a reload changed the admin chat or the bot that sends there)."""
        self._notify = notify

    async def __call__(self, text: str) -> None:
        self.sent.append(text)
        log.warning("ALERT: %s", text)
        if self._notify is None:
            return
        try:
            await self._notify(text)
        except Exception as exc:  # the alert is already in the log; the admin chat is best effort
            log.error("could not send the alert to the admin chat: %s", type(exc).__name__)
