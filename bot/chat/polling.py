"""Telegram's long polling that one bad update cannot stop: unreadable updates are skipped, and polling's health is
kept (bot/chat/health.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput, TimePeriod
from telegram.error import NetworkError, TelegramError
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest, RequestData

from bot.chat.health import PollingMonitor

log = logging.getLogger("announce_bot.chat")


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
            self.monitor.failed(f"{type(exc).__name__}: {exc.message}")
            raise
        except Exception:  # the answer came, but PTB could not read some update in it
            try:
                updates = self._one_by_one(self._updates_request.last_payload)
            except TelegramError as exc:
                self.monitor.failed(f"{type(exc).__name__}: {exc.message}")
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
