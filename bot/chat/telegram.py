"""The chat bot on Telegram: python-telegram-bot's updates translated into `Incoming`, `Replies` as Bot API calls, the
features' routes as PTB handlers, and personal reminders and approval requests sent through the same bot."""

from __future__ import annotations

import functools
import logging
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.adapters.transport import Reach, transport_failure
from bot.chat.broadcast import Unreachable
from bot.chat.core import Handler, Incoming, Keyboard, Routes, Services, clip
from bot.chat.features import Fallbacks
from bot.chat.flood import Throttle, admitted
from bot.chat.limiter import retry_after
from bot.domain import Platform
from bot.errors import CredentialsError, OutcomeUnknown, PermanentError, PublishError, RateLimited, TransientError
from bot.platforms import TELEGRAM
from bot.ratelimit import Slot
from bot.storage.reminders import Reminder

log = logging.getLogger("announce_bot.chat")

Context = ContextTypes.DEFAULT_TYPE
PTBHandler = BaseHandler[Update, Any, Any]
NEW = filters.UpdateType.MESSAGE  # edited messages are answered by the fallback, never run twice
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def incoming(update: Update, context: Context | None = None) -> Incoming:
    """What the features need of a PTB update."""
    chat, user, query = update.effective_chat, update.effective_user, update.callback_query
    message = update.effective_message
    command = addressee = None
    if query is None and message is not None and message.text and message.text.startswith("/"):
        first = message.text.split(maxsplit=1)[0][1:]
        name, _, to = first.partition("@")
        command, addressee = name.lower(), to or None
    pressed = query.message if query is not None and isinstance(query.message, Message) else None
    return Incoming(
        messenger=Platform.TELEGRAM, chat_id=chat.id if chat else None, user_id=user.id if user else None,
        private=chat is not None and chat.type == ChatType.PRIVATE,
        name=user.first_name if user else None,
        handle=(user.username or user.full_name or None) if user else None,
        language=user.language_code if user else None, command=command, addressee=addressee,
        args=tuple(context.args or ()) if context is not None else (),
        data=query.data if query is not None else None,
        rows=len(pressed.reply_markup.inline_keyboard) if pressed is not None and pressed.reply_markup else 0,
    )


@functools.lru_cache(maxsize=4096)
def markup(buttons: Keyboard | None) -> InlineKeyboardMarkup | None:
    """Telegram's keyboard for `buttons`, made once per keyboard (an event card's is the same for every reader, and
    python-telegram-bot's buttons cost more to make than the rest of an answer); its objects are frozen."""
    if buttons is None:
        return None
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(b.text, url=b.url) if b.url else
        InlineKeyboardButton(b.text, callback_data=b.data.pack() if b.data else "")
        for b in row] for row in buttons])


class TelegramReplies:
    """`Replies` to one update, as Bot API calls (Telegram HTML, no link previews)."""

    def __init__(self, update: Update, context: Context) -> None:
        self.update = update
        self.bot = context.bot

    @property
    def _query(self) -> CallbackQuery | None:
        return self.update.callback_query

    async def send(self, text: str, buttons: Keyboard | None = None, *, reply: bool = False) -> None:
        chat = self.update.effective_chat
        if chat is None:
            return
        pressed = self._query.message if self._query is not None else None
        await self.bot.send_message(chat_id=chat.id, text=clip(text, TELEGRAM), parse_mode=ParseMode.HTML,
                                    reply_markup=markup(buttons), link_preview_options=_NO_PREVIEW,
                                    reply_to_message_id=pressed.message_id if reply and pressed else None)

    async def edit(self, text: str, buttons: Keyboard | None = None) -> None:
        query = self._query
        if query is None or not isinstance(query.message, Message):
            await self.send(text, buttons)
            return
        try:
            await query.message.edit_text(clip(text, TELEGRAM), parse_mode=ParseMode.HTML, reply_markup=markup(buttons),
                                          link_preview_options=_NO_PREVIEW)
        except BadRequest as exc:
            if "not modified" not in exc.message:  # the same button pressed twice: nothing to change
                raise

    async def edit_buttons(self, text: str, buttons: Keyboard | None) -> None:
        query = self._query
        if query is not None and isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=markup(buttons))

    async def drop_buttons(self) -> None:
        query = self._query
        if query is None or query.message is None:
            return
        try:
            await self.bot.edit_message_reply_markup(chat_id=query.message.chat.id,
                                                     message_id=query.message.message_id, reply_markup=None)
        except TelegramError as exc:
            log.info("could not remove the buttons of message %s: %s", query.message.message_id, exc.message)

    async def answer(self, note: str | None = None) -> None:
        """Stop the button's spinner (Telegram wants an answer to every press)."""
        if self._query is not None:
            await self._query.answer(text=note[:200] if note else None)

    async def send_file(self, name: str, data: bytes, caption: str) -> None:
        chat = self.update.effective_chat
        if chat is not None:
            await self.bot.send_document(chat_id=chat.id, document=InputFile(data, filename=name),
                                         caption=caption[:1000], parse_mode=ParseMode.HTML)


def _run(handler: Handler) -> Any:
    async def callback(update: Update, context: Context) -> None:
        await handler(incoming(update, context), TelegramReplies(update, context))

    return callback


def handlers(services: Services, routes: Routes) -> list[PTBHandler]:
    """The features' routes as PTB handlers, then the fallbacks for what none of them takes."""
    found: list[PTBHandler] = [CommandHandler(name, _run(handler), filters=NEW)
                               for name, handler in routes.commands.items()]
    found += [CallbackQueryHandler(_run(handler), pattern=kind.pattern())
              for kind, handler in routes.buttons.items()]
    fallbacks = Fallbacks(services)
    return [
        *found,
        MessageHandler(filters.UpdateType.EDITED, _run(fallbacks.edited)),
        MessageHandler(filters.COMMAND & NEW, _run(fallbacks.unknown_command)),
        MessageHandler(filters.ChatType.PRIVATE & NEW, _run(fallbacks.other)),
        CallbackQueryHandler(_run(fallbacks.stale)),
    ]


def gate(services: Services, throttle: Throttle) -> PTBHandler:
    """Flood control before every other handler (group -1): an update past the person's bucket goes no further."""

    async def check(update: Update, context: Context) -> None:
        if not await admitted(throttle, services, incoming(update, context), TelegramReplies(update, context)):
            raise ApplicationHandlerStop

    return TypeHandler(Update, check)


async def error_handler(update: object, context: Context) -> None:
    error = context.error
    # Only the type and Telegram's own message: never a request URL (it would hold the token).
    detail = error.message if isinstance(error, TelegramError) else ""
    update_id = update.update_id if isinstance(update, Update) else "?"
    log.error("handling update %s failed: %s %s", update_id, type(error).__name__, detail,
              exc_info=None if isinstance(error, TelegramError) else error)


class TelegramCourier:
    """Personal reminders through the chat Application's bot; its rate limiter takes the pacer's slot as given."""

    messenger = Platform.TELEGRAM
    paid_broadcasts = True

    def __init__(self, bot: ExtBot[Any]) -> None:
        self.bot = bot

    async def send(self, row: Reminder, text: str, buttons: Keyboard, slot: Slot, *, paid: bool) -> int | None:
        try:
            message = await self.bot.send_message(
                chat_id=row.chat_id, text=clip(text, TELEGRAM), parse_mode=ParseMode.HTML, reply_markup=markup(buttons),
                link_preview_options=_NO_PREVIEW, allow_paid_broadcast=True if paid else None, rate_limit_args=slot,
            )
        except TelegramError as exc:
            raise reminder_error(exc) from None
        return message.message_id


def reminder_error(exc: TelegramError) -> PublishError:
    """A Telegram error as the bot's own, by the rule every sender follows (bot/adapters/transport.py)."""
    if isinstance(exc, RetryAfter):  # the limiter paused the whole token already
        wait = retry_after(exc)
        return RateLimited(f"Telegram asks to wait {wait:g} s", wait)
    if isinstance(exc, Forbidden):
        return Unreachable(exc.message, blocked=True)
    if isinstance(exc, ChatMigrated):
        return PermanentError(f"the group moved to chat {exc.new_chat_id}")
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return Unreachable(exc.message, blocked=False)
        return PermanentError(exc.message)
    if isinstance(exc, InvalidToken):  # its message may quote the token: not used
        return CredentialsError("Telegram rejected the bot token")
    failure = transport_failure(exc)
    if failure is not None:
        if failure.reach is Reach.NOT_SENT:
            return TransientError(f"cannot reach Telegram ({failure.reason}); nothing was sent")
        return OutcomeUnknown(f"Telegram did not answer ({failure.reason}): it may or may not have arrived")
    if isinstance(exc, NetworkError) and (exc.__cause__ is None or isinstance(exc.__cause__, TelegramError)):
        # Telegram answered with an HTTP error (a 5xx; PTB chains the body it could not read): not sent.
        return TransientError(f"Telegram answered an error: {exc.message[:200]}")
    return OutcomeUnknown(f"unexpected answer from Telegram ({exc.message[:200]}): it may or may not have arrived")


class TelegramAsker:
    """Approval requests by direct message on Telegram."""

    messenger = Platform.TELEGRAM

    def __init__(self, bot: ExtBot[Any]) -> None:
        self.bot = bot

    async def ask(self, approver: int, text: str, buttons: Keyboard) -> bool:
        try:
            await self.bot.send_message(chat_id=approver, text=text, parse_mode=ParseMode.HTML,
                                        reply_markup=markup(buttons), link_preview_options=_NO_PREVIEW)
        except TelegramError as exc:
            log.warning("could not ask approver %s on Telegram: %s", approver, exc.message)
            return False
        return True
