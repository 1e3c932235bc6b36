"""Every request the chat bot's Application makes goes through its token's shared limits (bot/ratelimit.py)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.ratelimit import Slot, TokenLimits

log = logging.getLogger("announce_bot.chat.limiter")

JSON = bool | dict[str, Any] | list[dict[str, Any]]
REPLY_RETRIES = 1  # a reply refused with a 429 is sent again once, after the pause Telegram asked for


def retry_after(exc: RetryAfter) -> float:
    """Seconds Telegram asks to wait (PTB 22 warns that `retry_after` becomes a timedelta; both are read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class SharedRateLimiter(BaseRateLimiter[Slot]):
    """PTB's rate-limiter hook on the shared limits of the bot's token.

    A request to a chat (messages, documents, edits) waits for that chat's window, the token's overall
    windows (or the paid-broadcast ceiling when it carries allow_paid_broadcast) and any pause after a 429;
    requests without a chat (getUpdates, getMe, answerCallbackQuery) go straight through. A sender that took
    its slot itself (the reminder broadcaster's Pacer) passes it as `rate_limit_args`: it is not taken twice,
    and a 429 is handed back to that sender, which knows what to do with its message.
    """

    def __init__(self, limits: TokenLimits) -> None:
        self.limits = limits

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Slot | None,
    ) -> JSON:
        chat = data.get("chat_id")
        if chat is None and rate_limit_args is None:
            return await callback(*args, **kwargs)
        attempt = 0
        while True:
            slot = rate_limit_args or await self.limits.take(
                str(chat), paid=bool(data.get("allow_paid_broadcast")))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after(exc)
                self.limits.pause(wait)  # everyone with this token waits: channel posts, reminders, replies
                log.warning("Telegram asks this bot to slow down (%s): everything it sends waits %g s", endpoint,
                            wait)
                if rate_limit_args is not None or attempt >= REPLY_RETRIES:
                    raise
                attempt += 1
            finally:
                slot.done()
