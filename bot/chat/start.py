"""/start (with the `event_<id>` deep link of the channel's "Remind me" button) and /help."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.chat.core import Context, Services, card_keyboard, is_private, reply, subscribed_to, who
from bot.chat.lang import lang_keyboard
from bot.chat.texts import greeting, t

NEW = filters.UpdateType.MESSAGE  # edited messages are answered by the fallback, never run twice


class Start:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def start(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        owner, chat_id = who(update)
        payload = (context.args or [""])[0]
        if owner is not None and chat_id is not None and services.chats.lang(owner) is None:
            services.chats.remember(owner, chat_id, lang)  # met: their language is kept from now on
        if payload.startswith("event_"):
            event = services.resolve(payload.removeprefix("event_"))
            if event is not None:
                subscribed = subscribed_to(services, update, event)
                keyboard = card_keyboard(services, event, lang, subscribed=subscribed, private=is_private(update))
                await reply(update, context, services.card(event, lang), keyboard)
                if not subscribed and is_private(update):
                    await reply(update, context, t("offer_subscribe", lang), InlineKeyboardMarkup([[
                        InlineKeyboardButton(t("btn_remind", lang), callback_data=f"sub:{services.key(event.id)}"),
                        InlineKeyboardButton(t("btn_all", lang), callback_data="suball"),
                    ]]))
                return
            await reply(update, context, t("event_not_found", lang, id=payload.removeprefix("event_")[:64]))
        user = update.effective_user
        name = user.first_name if user and user.first_name else t("friend", lang)
        text = greeting(lang, name, services.config.settings.organisation.name_in(lang))
        await reply(update, context, text, lang_keyboard(lang))

    async def help(self, update: Update, context: Context) -> None:
        await reply(update, context, t("help", self.services.lang(update)))


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Start(services)
    return [
        CommandHandler("start", feature.start, filters=NEW),
        CommandHandler("help", feature.help, filters=NEW),
    ]
