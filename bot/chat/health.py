"""How a chat bot receives updates (long polling or a webhook), for /healthz: its state since when, the last error,
the updates it skipped; the same for every messenger."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.clock import Clock

log = logging.getLogger("announce_bot.chat")



class PollState(StrEnum):
    STARTING = "starting"
    OK = "ok"  # the last poll was answered (or, for a webhook, the webhook is set)
    FAILING = "failing"  # the last poll failed; polling goes on with growing pauses
    STOPPED = "stopped"


@dataclass(frozen=True, kw_only=True)
class ChatHealth:
    """How the chat bot receives updates, for /healthz: its state since when, and the last error seen."""

    mode: str
    state: PollState
    since: datetime | None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failed_calls: int = 0  # polls failed in a row
    skipped_updates: int = 0  # updates that could not be read, skipped since start

    @property
    def ok(self) -> bool:
        return self.state is PollState.OK


class PollingMonitor:
    """Follows what each poll answers; logs the first failure of a run and the recovery, not every retry."""

    def __init__(self, mode: str, clock: Clock, call: str = "getUpdates") -> None:
        self.clock = clock
        self.call = call  # what polls: getUpdates on Telegram, GET /updates on MAX
        self._health = ChatHealth(mode=mode, state=PollState.STARTING, since=clock())

    def health(self) -> ChatHealth:
        return self._health

    def _set(self, state: PollState, **changes: Any) -> None:
        health = self._health
        since = health.since if state is health.state else self.clock()
        self._health = ChatHealth(**{**health.__dict__, "state": state, "since": since, **changes})

    def answered(self) -> None:
        if self._health.state is PollState.FAILING:
            log.info("%s answers again, after %d failed calls", self.call, self._health.failed_calls)
        self._set(PollState.OK, failed_calls=0)

    def failed(self, text: str) -> None:
        """The last poll failed: `text` says how (an error's type and message, never a URL)."""
        first = self._health.state is not PollState.FAILING
        (log.warning if first else log.debug)("%s failed: %s; polling goes on with growing pauses", self.call, text)
        now = self.clock()
        self._set(PollState.FAILING, last_error=text, last_error_at=now, failed_calls=self._health.failed_calls + 1)

    def skipped(self, update_id: int | str, error: Exception) -> None:
        log.warning("update %s could not be read (%s: %s): skipped", update_id, type(error).__name__, error)
        self._set(self._health.state, skipped_updates=self._health.skipped_updates + 1)

    def webhook(self) -> None:
        self._set(PollState.OK)

    def stopped(self) -> None:
        self._set(PollState.STOPPED)
