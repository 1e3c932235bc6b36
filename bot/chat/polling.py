"""Long polling that one bad update cannot stop: unreadable updates are skipped, and polling's health is kept."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput, TimePeriod
from telegram.error import NetworkError, TelegramError
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger("announce_bot.chat")

Clock = Callable[[], datetime]


class PollState(StrEnum):
    STARTING = "starting"
    OK = "ok"  # the last getUpdates was answered (or, for a webhook, the webhook is set)
    FAILING = "failing"  # the last getUpdates failed; PTB's network loop retries with growing pauses
    STOPPED = "stopped"


@dataclass(frozen=True, kw_only=True)
class ChatHealth:
    """How the chat bot receives updates, for /healthz: its state since when, and the last error seen."""

    mode: str
    state: PollState
    since: datetime | None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failed_calls: int = 0  # getUpdates failures in a row
    skipped_updates: int = 0  # updates that could not be read, skipped since start

    @property
    def ok(self) -> bool:
        return self.state is PollState.OK


class PollingMonitor:
    """Follows what getUpdates answers; logs the first failure of a run and the recovery, not every retry."""

    def __init__(self, mode: str, clock: Clock) -> None:
        self.clock = clock
        self._health = ChatHealth(mode=mode, state=PollState.STARTING, since=clock())

    def health(self) -> ChatHealth:
        return self._health

    def _set(self, state: PollState, **changes: Any) -> None:
        health = self._health
        since = health.since if state is health.state else self.clock()
        self._health = ChatHealth(**{**health.__dict__, "state": state, "since": since, **changes})

    def answered(self) -> None:
        if self._health.state is PollState.FAILING:
            log.info("getUpdates answers again, after %d failed calls", self._health.failed_calls)
        self._set(PollState.OK, failed_calls=0)

    def failed(self, error: TelegramError) -> None:
        text = f"{type(error).__name__}: {error.message}"
        first = self._health.state is not PollState.FAILING
        (log.warning if first else log.debug)("getUpdates failed: %s; polling goes on with growing pauses", text)
        now = self.clock()
        self._set(PollState.FAILING, last_error=text, last_error_at=now, failed_calls=self._health.failed_calls + 1)

    def skipped(self, update_id: int, error: Exception) -> None:
        log.warning("update %d could not be read (%s: %s): skipped", update_id, type(error).__name__, error)
        self._set(self._health.state, skipped_updates=self._health.skipped_updates + 1)

    def webhook(self) -> None:
        self._set(PollState.OK)

    def stopped(self) -> None:
        self._set(PollState.STOPPED)


class UpdatesRequest(HTTPXRequest):
    """The connection getUpdates uses; it keeps the last answer's bytes, so a batch PTB cannot read can be
    read again one update at a time."""

    last_payload: bytes = b""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, read_timeout, write_timeout,
                                                 connect_timeout, pool_timeout)
        self.last_payload = payload
        return code, payload


class PollingBot(ExtBot[None]):
    """PTB's bot, whose getUpdates never fails on an update it cannot read: that update is logged with its id
    and handed on empty (no handler takes it), so the Updater confirms it with the next call and goes on.

    Without this, PTB's Updater logs the whole batch and asks again at once, forever (~360 calls/s), and
    the unconfirmed update comes back after a restart too. Network errors stay TelegramErrors, for which
    PTB's own network loop waits 1 s, then 1.5 times longer each time, up to 30 s.
    """

    def __init__(self, token: str, *, base_url: str, base_file_url: str, request: HTTPXRequest,
                 updates_request: UpdatesRequest, monitor: PollingMonitor,
                 rate_limiter: BaseRateLimiter[Any] | None = None) -> None:
        super().__init__(token, base_url=base_url, base_file_url=base_file_url, request=request,
                         get_updates_request=updates_request, rate_limiter=rate_limiter)
        self._updates_request = updates_request
        self._monitor = monitor  # PTB freezes a bot's public attributes after __init__

    @property
    def monitor(self) -> PollingMonitor:
        return self._monitor

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> tuple[Update, ...]:
        try:
            updates = await super().get_updates(
                offset, limit, timeout, allowed_updates, read_timeout=read_timeout, write_timeout=write_timeout,
                connect_timeout=connect_timeout, pool_timeout=pool_timeout, api_kwargs=api_kwargs)
        except TelegramError as exc:
            self.monitor.failed(exc)
            raise
        except Exception:  # the answer came, but PTB could not read some update in it
            try:
                updates = self._one_by_one(self._updates_request.last_payload)
            except TelegramError as exc:
                self.monitor.failed(exc)
                raise
        self.monitor.answered()
        return updates

    def _one_by_one(self, payload: bytes) -> tuple[Update, ...]:
        try:
            batch = json.loads(payload)["result"]
        except (ValueError, TypeError, KeyError):
            batch = None
        if not isinstance(batch, list):
            raise NetworkError("getUpdates answered something other than a list of updates")
        updates = []
        for item in batch:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                continue  # nothing to confirm it by; if nothing readable is left, this is a failed call
            try:
                update = Update.de_json(item, self)
            except Exception as exc:
                self.monitor.skipped(update_id, exc)
                update = Update(update_id=update_id)
            updates.append(update)
        if not updates:
            raise NetworkError("getUpdates answered items without an update_id")
        return tuple(updates)


class _BatchLogged(logging.Filter):
    """PTB logs every batch it cannot read whole at CRITICAL, all of it; PollingBot logs each bad update."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Error while parsing updates!")


def quiet_batch_errors() -> None:
    logger = logging.getLogger("telegram.ext.ExtBot")
    if not any(isinstance(f, _BatchLogged) for f in logger.filters):
        logger.addFilter(_BatchLogged())
