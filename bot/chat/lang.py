"""/lang and its buttons: the language a person (or a group) reads the bot in."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.chat.core import Context, Services, answer, reply, show, who
from bot.chat.texts import LANG_NAMES, LANGS, t


def lang_keyboard(current: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(("✓ " if code == current else "") + LANG_NAMES[code], callback_data=f"lang:{code}")
        for code in LANGS
    ]])


class Lang:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def ask(self, update: Update, context: Context) -> None:
        lang = self.services.lang(update)
        code = (context.args or [""])[0].lower()
        if code in LANGS:
            await self._set(update, context, code)
            return
        await reply(update, context, t("choose_lang", lang), lang_keyboard(lang))

    async def pressed(self, update: Update, context: Context) -> None:
        query = update.callback_query
        code = (query.data or "").removeprefix("lang:") if query else ""
        if code not in LANGS:
            await answer(query, t("stale_button", self.services.lang(update)))
            return
        await answer(query)
        await self._set(update, context, code, edit=True)

    async def _set(self, update: Update, context: Context, code: str, *, edit: bool = False) -> None:
        owner, chat_id = who(update)
        if owner is not None and chat_id is not None:
            self.services.chats.remember(owner, chat_id, code)
        await show(update, context, t("lang_set", code), lang_keyboard(code) if edit else None, edit=edit)


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Lang(services)
    return [
        CommandHandler("lang", feature.ask, filters=filters.UpdateType.MESSAGE),
        CallbackQueryHandler(feature.pressed, pattern=r"^lang:"),
    ]
