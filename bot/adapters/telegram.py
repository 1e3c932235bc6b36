"""Publishes to a Telegram channel or chat through the Bot API (python-telegram-bot), in HTML parse mode."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import quote

import httpx
from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.abc import Adapter, PartLog
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


class TelegramAdapter(Adapter):
    """Sends each part of a post to `target.chat_id`: a photo with the first part as its caption when the
    post has an image, then messages replying to the first one, so that the parts read as one post."""

    spec = TELEGRAM

    def __init__(self, name: str, target: TelegramTarget) -> None:
        self.name = name
        self.target = target
        self._token = target.secret("token") or ""
        self._bot: Bot | None = None
        self._lock = asyncio.Lock()
        # The bot token is part of every Bot API URL (https://api.telegram.org/bot<token>/sendMessage).
        # httpx logs each request with its full URL at INFO, and PTB logs its API URL at DEBUG: keep both
        # loggers at WARNING so that no log handler ever receives the token, whatever the root level.
        for logger_name in ("httpx", "telegram"):
            logger = logging.getLogger(logger_name)
            if logger.level < logging.WARNING:  # NOTSET (0) too: it would inherit the root's level
                logger.setLevel(logging.WARNING)

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        if not post.parts:
            raise PermanentError(f"{self._where}: the post has no text to publish")
        sent: list[Message] = []
        failure: PublishError | None = None
        try:
            bot = await self._ready_bot()
            await self._send_parts(bot, post, sent)
        except TelegramError as exc:
            failure = self._error(exc)
        if failure is not None:
            if sent:
                ids = [str(message.message_id) for message in sent]
                failure = self.partial_failure(failure, ids, len(post.parts), self._link(sent[0]))
            # Raised outside the `except` block and `from None`: the PTB exception, whose text may hold
            # the token (initialize() puts it in InvalidToken's message), is neither chained nor shown.
            raise failure from None
        first = sent[0]
        return Receipt(
            platform=self.spec.platform,
            target=self.name,
            post_id=str(first.message_id),
            link=self._link(first),
            extra_ids=tuple(str(message.message_id) for message in sent[1:]),
        )

    async def pin_live(self, message_id: str, text: str | None, caption: bool) -> None:
        """Point the announcement at the stream (when `text` is given) and pin it without a notification."""
        chat_id, message = self.target.chat_id, int(message_id)
        failure: PublishError | None = None
        try:
            bot = await self._ready_bot()
            if text is not None and caption:
                await bot.edit_message_caption(chat_id=chat_id, message_id=message, caption=text,
                                               parse_mode=ParseMode.HTML)
            elif text is not None:
                await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message, parse_mode=ParseMode.HTML)
            await bot.pin_chat_message(chat_id=chat_id, message_id=message, disable_notification=True)
        except TelegramError as exc:
            failure = self._error(exc)
        if failure is not None:
            raise failure from None

    async def unpin(self, message_id: str) -> None:
        failure: PublishError | None = None
        try:
            bot = await self._ready_bot()
            await bot.unpin_chat_message(chat_id=self.target.chat_id, message_id=int(message_id))
        except TelegramError as exc:
            failure = self._error(exc)
        if failure is not None:
            raise failure from None

    async def aclose(self) -> None:
        async with self._lock:
            bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()

    async def _ready_bot(self) -> Bot:
        """The Bot, created and initialised (one getMe) on first use and reused afterwards."""
        async with self._lock:
            if self._bot is None:
                if not self._token:
                    raise CredentialsError(f"{self._where}: no bot token configured")
                timeout = self.target.timeout
                request = HTTPXRequest(
                    connection_pool_size=8,
                    read_timeout=timeout,
                    write_timeout=timeout,
                    connect_timeout=timeout,
                    pool_timeout=timeout,
                    media_write_timeout=timeout,
                )
                self._bot = Bot(self._token, base_url=self._base_url(), request=request)
            # A no-op once it has succeeded; after a failed getMe it tries again on the next publish.
            await self._bot.initialize()
            return self._bot

    def _base_url(self) -> str:
        base = self.target.api_base_url
        if not base:
            return DEFAULT_BASE_URL
        if "{token}" in base:  # PTB substitutes the token itself
            return base
        return f"{base.rstrip('/')}/bot"  # PTB appends the token

    async def _send_parts(self, bot: Bot, post: RenderedPost, sent: list[Message]) -> None:
        """Send the parts in order, appending each message to `sent` as soon as Telegram accepted it."""
        chat_id = self.target.chat_id
        texts = [part.text for part in post.parts]
        if post.image and texts:
            photo = await bot.send_photo(
                chat_id=chat_id, photo=post.image, caption=texts[0], parse_mode=ParseMode.HTML
            )
            sent.append(photo)
            texts = texts[1:]
        for index, text in enumerate(texts):
            if index == 0:
                # The first text message previews the post's link (Telegram's default: its first link).
                preview = LinkPreviewOptions(url=post.link) if post.link else None
            else:
                preview = LinkPreviewOptions(is_disabled=True)
            # Every part after the first replies to it, so that the parts read as one post.
            reply = None
            if sent:
                reply = ReplyParameters(message_id=sent[0].message_id, allow_sending_without_reply=True)
            sent.append(
                await bot.send_message(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=preview,
                    reply_parameters=reply,
                )
            )

    def _link(self, message: Message) -> str | None:
        """The public link of a message: only channels and groups with a public @username have one."""
        if self.target.url:
            return f"{self.target.url.rstrip('/')}/{message.message_id}"
        username = self.target.chat_id[1:] if self.target.chat_id.startswith("@") else message.chat.username
        return f"https://t.me/{username}/{message.message_id}" if username else None

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

    def _error(self, exc: TelegramError) -> PublishError:
        """The bot's own error for a PTB exception, in plain words and without the token.

        Subclasses come before their bases: BadRequest and TimedOut are NetworkErrors.
        """
        where = self._where
        detail = self._scrub(exc.message)
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
        if isinstance(exc, TimedOut):
            if isinstance(exc.__cause__, httpx.ReadTimeout | httpx.WriteTimeout):
                # The request was sent: Telegram may have posted it. A retry could post it twice.
                return OutcomeUnknown(f"{where}: Telegram did not answer within {self.target.timeout:g} s; "
                                      "the message may or may not have been published")
            return TransientError(f"{where}: Telegram did not answer within {self.target.timeout:g} s")
        if isinstance(exc, NetworkError):
            return TransientError(f"{where}: cannot reach Telegram: {detail}")
        return TransientError(f"{where}: unexpected answer from Telegram: {detail}")



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
        try:
            await bot.send_message(chat_id=chat_id, text=text[:4000], link_preview_options=LinkPreviewOptions(
                is_disabled=True))
        except TelegramError as exc:
            raise adapter._error(exc) from None

    return notify
