"""Publishes to a Telegram channel or chat through the Bot API (python-telegram-bot), in HTML parse mode."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from telegram import Bot, LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.abc import Adapter, PartLog, send_parts
from bot.adapters.transport import causes, http_error, json_object, network_error, transport_failure
from bot.config.settings import TelegramTarget
from bot.domain import Receipt, RenderedPost
from bot.errors import (
    CredentialsError,
    OutcomeUnknown,
    PermanentError,
    PublishError,
    RateLimited,
    TransientError,
)
from bot.platforms import TELEGRAM

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
# A 429 should carry parameters.retry_after (core.telegram.org/bots/api#responseparameters); one without it
# (a proxy, a self-hosted server) waits the longest window Telegram publishes: 20 messages a minute in a group
# (core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
DEFAULT_RETRY_AFTER = 60.0
_PTB_MAPS = frozenset({400, 401, 403, 404, 409})  # statuses PTB turns into its own exception types


class _HttpStatus(Exception):
    """An HTTP answer PTB would report as a bare NetworkError without its status (5xx, other 4xx, a 429
    without retry_after). PTB wraps it, as the cause of its NetworkError, and the adapter reads it back."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(status, description)
        self.status = status
        self.description = description


class _StatusRequest(HTTPXRequest):
    """PTB's httpx transport, except that an answer PTB would not classify raises `_HttpStatus`."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if 200 <= code <= 299 or code in _PTB_MAPS:
            return code, payload
        answer = json_object(payload)
        parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
        if parameters and (parameters.get("retry_after") or parameters.get("migrate_to_chat_id")):
            return code, payload  # PTB raises RetryAfter or ChatMigrated from these
        raise _HttpStatus(code, str(answer.get("description") or "no description"))


class TelegramAdapter(Adapter):
    """Sends each part of a post to `target.chat_id`: a photo with the first part as its caption when the
    post has an image, then messages replying to the first one, so that the parts read as one post."""

    spec = TELEGRAM

    def __init__(self, name: str, target: TelegramTarget) -> None:
        self.name = name
        self.target = target
        self._token = target.secret("token") or ""
        self._bot: Bot | None = None
        self._username: str | None = None  # the chat's public @username, as Telegram reported it
        self._lock = asyncio.Lock()
        # The bot token is part of every Bot API URL (https://api.telegram.org/bot<token>/sendMessage).
        # httpx logs each request with its full URL at INFO, and PTB logs its API URL at DEBUG: keep both
        # loggers at WARNING so that no log handler ever receives the token, whatever the root level.
        for logger_name in ("httpx", "telegram"):
            logger = logging.getLogger(logger_name)
            if logger.level < logging.WARNING:  # NOTSET (0) too: it would inherit the root's level
                logger.setLevel(logging.WARNING)

    async def prepare(self) -> None:
        """Build the Bot and call getMe once; nothing is published, so every failure here is safe to retry."""
        await self._ready_bot()

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        bot = await self._ready_bot()
        chat_id = self.target.chat_id
        first_text = 1 if post.image else 0  # the index of the first part sent as a text message

        async def send(index: int, log: PartLog) -> str:
            text = post.parts[index].text
            failure: PublishError
            try:
                if index == 0 and post.image:
                    message = await bot.send_photo(chat_id=chat_id, photo=post.image, caption=text,
                                                   parse_mode=ParseMode.HTML)
                else:
                    if index == first_text:
                        # The first text message previews the post's link (Telegram's default: its first link).
                        preview = LinkPreviewOptions(url=post.link) if post.link else None
                    else:
                        preview = LinkPreviewOptions(is_disabled=True)
                    # Every part after the first replies to it, so that the parts read as one post.
                    reply = None
                    if log.done:
                        reply = ReplyParameters(message_id=int(log.done[0]), allow_sending_without_reply=True)
                    message = await bot.send_message(chat_id=chat_id, text=text, parse_mode=ParseMode.HTML,
                                                     link_preview_options=preview, reply_parameters=reply)
            except TelegramError as exc:
                failure = self._error(exc, sending=True)
            else:
                if message.chat.username:
                    self._username = message.chat.username
                return str(message.message_id)
            # Raised outside the `except` block and `from None`: the PTB exception, whose text may hold
            # the token, is neither chained nor shown.
            raise failure from None

        ids = await send_parts(post, parts, send, self._link)
        return self.receipt(ids, self._link(ids[0]))

    async def pin_live(self, message_id: str, text: str | None, caption: bool) -> None:
        """Point the announcement at the stream (when `text` is given) and pin it without a notification."""
        chat_id, message = self.target.chat_id, int(message_id)
        bot = await self._ready_bot()
        failure: PublishError | None = None
        try:
            if text is not None and caption:
                await bot.edit_message_caption(chat_id=chat_id, message_id=message, caption=text,
                                               parse_mode=ParseMode.HTML)
            elif text is not None:
                await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message, parse_mode=ParseMode.HTML)
            await bot.pin_chat_message(chat_id=chat_id, message_id=message, disable_notification=True)
        except TelegramError as exc:
            # An edit or a pin repeated changes nothing: retrying either cannot publish anything twice.
            failure = self._error(exc, sending=False)
        if failure is not None:
            raise failure from None

    async def edit(self, ids: tuple[str, ...], post: RenderedPost, notice: RenderedPost | None) -> Receipt:
        """editMessageText (editMessageCaption for a photo's caption) on each message the post went out as."""
        chat_id = self.target.chat_id
        bot = await self._ready_bot()
        failure: PublishError | None = None
        try:
            for index, (message_id, part) in enumerate(zip(ids, post.parts, strict=False)):
                try:
                    if index == 0 and post.image:
                        await bot.edit_message_caption(chat_id=chat_id, message_id=int(message_id), caption=part.text,
                                                       parse_mode=ParseMode.HTML)
                    else:
                        await bot.edit_message_text(text=part.text, chat_id=chat_id, message_id=int(message_id),
                                                    parse_mode=ParseMode.HTML)
                except BadRequest as exc:
                    if "not modified" not in exc.message.lower():  # the same text: nothing to correct there
                        raise
        except TelegramError as exc:
            failure = self._error(exc, sending=False)  # an edit repeated changes nothing: safe to retry
        if failure is not None:
            raise failure from None
        return self.receipt(ids, self._link(ids[0]))

    async def unpin(self, message_id: str) -> None:
        bot = await self._ready_bot()
        failure: PublishError | None = None
        try:
            await bot.unpin_chat_message(chat_id=self.target.chat_id, message_id=int(message_id))
        except TelegramError as exc:
            failure = self._error(exc, sending=False)
        if failure is not None:
            raise failure from None

    async def aclose(self) -> None:
        async with self._lock:
            bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()

    async def _ready_bot(self) -> Bot:
        """The Bot, created and initialised (one getMe) on first use and reused afterwards."""
        failure: PublishError | None = None
        async with self._lock:
            if self._bot is None:
                if not self._token:
                    raise CredentialsError(f"{self._where}: no bot token configured")
                timeout = self.target.timeout
                request = _StatusRequest(
                    connection_pool_size=8,
                    read_timeout=timeout,
                    write_timeout=timeout,
                    connect_timeout=timeout,
                    pool_timeout=timeout,
                    media_write_timeout=timeout,
                )
                self._bot = Bot(self._token, base_url=self._base_url(), request=request)
            bot = self._bot
            try:
                # A no-op once it has succeeded; after a failed getMe it tries again on the next call.
                await bot.initialize()
            except TelegramError as exc:
                failure = self._error(exc, sending=False)  # getMe publishes nothing
        if failure is not None:
            raise failure from None
        return bot

    def _base_url(self) -> str:
        base = self.target.api_base_url
        if not base:
            return DEFAULT_BASE_URL
        if "{token}" in base:  # PTB substitutes the token itself
            return base
        return f"{base.rstrip('/')}/bot"  # PTB appends the token

    def _link(self, message_id: str) -> str | None:
        """The public link of a message: only channels and groups with a public @username have one."""
        if self.target.url:
            return f"{self.target.url.rstrip('/')}/{message_id}"
        username = self.target.chat_id[1:] if self.target.chat_id.startswith("@") else self._username
        return f"https://t.me/{username}/{message_id}" if username else None

    @property
    def _where(self) -> str:
        return f"Telegram target {self.name!r} ({self.target.chat_id})"

    def _scrub(self, text: str) -> str:
        """`text` with the token removed, in case a server or library message quotes a request URL."""
        if not self._token:
            return text
        for form in {self._token, quote(self._token, safe=""), quote(self._token)}:
            text = text.replace(form, "<token>")
        return text

    def _error(self, exc: TelegramError, sending: bool) -> PublishError:
        """The bot's own error for a PTB exception, in plain words and without the token.

        `sending` is True for a call that publishes (sendMessage, sendPhoto): a failure after that request
        may have reached Telegram is then OutcomeUnknown. Subclasses come before their bases: BadRequest
        and TimedOut are NetworkErrors.
        """
        where = self._where
        detail = self._scrub(exc.message)[:300]
        if isinstance(exc, RetryAfter):
            seconds = _retry_after_seconds(exc)
            return RateLimited(f"{where}: flood control, Telegram asks to wait {seconds:g} s", seconds)
        if isinstance(exc, ChatMigrated):
            return PermanentError(
                f"{where}: the group became a supergroup with chat id {exc.new_chat_id}; "
                f"set chat_id = \"{exc.new_chat_id}\" for this target in the settings"
            )
        if isinstance(exc, InvalidToken):
            # Its message may quote the token (Bot.initialize does): do not use it.
            return CredentialsError(f"{where}: Telegram rejected the bot token; check it with @BotFather")
        if isinstance(exc, Forbidden):
            return CredentialsError(
                f"{where}: the bot may not post there ({detail}); "
                "add it to the channel as an administrator allowed to post messages"
            )
        if isinstance(exc, Conflict):
            return TransientError(f"{where}: Telegram reported a conflict ({detail}); try again later")
        if isinstance(exc, BadRequest):
            return PermanentError(f"{where}: Telegram refused the post: {detail}")
        status = next((cause for cause in causes(exc) if isinstance(cause, _HttpStatus)), None)
        if status is not None:
            description = self._scrub(status.description)[:200]
            shared = http_error(status.status, where=where, platform="Telegram", detail=description,
                                retry_after=None, default_wait=DEFAULT_RETRY_AFTER,
                                default_why="Telegram's longest published window, 20 messages a minute in a group")
            return shared or PermanentError(f"{where}: Telegram answered HTTP {status.status} ({description})")
        failure = transport_failure(exc)
        if failure is not None:
            return network_error(failure, where=where, platform="Telegram", sending=sending,
                                 timeout=self.target.timeout)
        if sending:
            # An answer PTB could not read (not JSON, not a message): Telegram may have sent the message.
            return OutcomeUnknown(f"{where}: unexpected answer from Telegram ({detail}); "
                                  "the message may or may not have been published")
        return TransientError(f"{where}: unexpected answer from Telegram ({detail})")


def _retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22.2+ warns that `retry_after` will become a timedelta; accept both, without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def telegram_notifier(target: TelegramTarget, chat_id: str) -> Callable[[str], Awaitable[None]]:
    """Sends plain-text alerts to an admin chat with `target`'s bot (no parse mode: nothing to escape)."""
    adapter = TelegramAdapter("admin", target)

    async def notify(text: str) -> None:
        bot = await adapter._ready_bot()
        failure: PublishError | None = None
        try:
            await bot.send_message(chat_id=chat_id, text=text[:4000], link_preview_options=LinkPreviewOptions(
                is_disabled=True))
        except TelegramError as exc:
            failure = adapter._error(exc, sending=True)
        if failure is not None:
            raise failure from None

    return notify
