"""/subscribe, /unsubscribe, /mysubs and the "Remind me" buttons: personal reminders by direct message."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.chat.core import (
    Context,
    Services,
    answer,
    args_text,
    card_keyboard,
    event_buttons,
    is_private,
    reply,
    who,
)
from bot.chat.texts import t
from bot.domain import Event
from bot.platforms import visible_text
from bot.rendering.context import view


class Subscriptions:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def subscribe(self, update: Update, context: Context) -> None:
        wanted = args_text(context, 100)
        event = None
        if wanted:
            event = self.services.resolve(wanted.split()[0])
            if event is None:
                await reply(update, context, t("event_not_found", self.services.lang(update), id=wanted[:64]))
                return
        await reply(update, context, self._subscribe(update, event))

    async def unsubscribe(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        wanted = args_text(context, 100)
        owner, _ = who(update)
        event = services.resolve(wanted.split()[0]) if wanted else None
        if wanted and event is None:
            await reply(update, context, t("event_not_found", lang, id=wanted[:64]))
            return
        if owner is None or not services.chats.unsubscribe(owner, event.id if event else None):
            await reply(update, context, t("not_subscribed", lang))
            return
        title = view(event, lang).title if event else ""
        await reply(update, context, t("unsubscribed_one", lang, title=title) if event else t("unsubscribed_all", lang))

    async def mine(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        owner, _ = who(update)
        subs = services.chats.subscriptions(owner) if owner is not None else None
        if subs is None or (not subs.all_events and not subs.event_ids):
            await reply(update, context, t("mysubs_none", lang))
            return
        if subs.all_events:
            await reply(update, context, t("mysubs_all", lang))
            return
        events = [e for e in (services.chats.event(i) for i in subs.event_ids) if e is not None]
        keyboard = InlineKeyboardMarkup(event_buttons(services, events, lang))
        await reply(update, context, t("mysubs_events", lang), keyboard)

    async def pressed(self, update: Update, context: Context) -> None:
        """sub:<event>, uns:<event> and suball: change the subscription, then update the card's button."""
        services = self.services
        lang = services.lang(update)
        query = update.callback_query
        data = (query.data or "") if query else ""
        owner, _ = who(update)
        event: Event | None = None
        if data != "suball":
            event = services.resolve(data[4:])
            if event is None or owner is None:
                await answer(query, t("stale_button", lang))
                return
        if data.startswith("uns:") and event is not None and owner is not None:
            services.chats.unsubscribe(owner, event.id)
            note = t("unsubscribed_one", lang, title=view(event, lang).title)
        else:
            note = self._subscribe(update, event)
        await answer(query, visible_text(note))
        message = query.message if query is not None else None
        is_card = isinstance(message, Message) and message.reply_markup is not None and \
            len(message.reply_markup.inline_keyboard) >= 3
        if event is not None and is_card and isinstance(message, Message):  # flip the card's button
            keyboard = card_keyboard(services, event, lang, subscribed=data.startswith("sub:"),
                                     private=is_private(update))
            await message.edit_reply_markup(reply_markup=keyboard)
            return
        await reply(update, context, note)

    def _subscribe(self, update: Update, event: Event | None) -> str:
        services = self.services
        lang = services.lang(update)
        owner, chat_id = who(update)
        if owner is None or chat_id is None:
            return t("hint", lang)
        if event is None:
            done = services.chats.subscribe(owner, chat_id, lang, None)
            return t("subscribed_all" if done else "already_all", lang)
        done = services.chats.subscribe(owner, chat_id, lang, event.id)
        title = view(event, lang).title
        return t("subscribed_one" if done else "already_one", lang, title=title)


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Subscriptions(services)
    new = filters.UpdateType.MESSAGE
    return [
        CommandHandler("subscribe", feature.subscribe, filters=new),
        CommandHandler("unsubscribe", feature.unsubscribe, filters=new),
        CommandHandler("mysubs", feature.mine, filters=new),
        CallbackQueryHandler(feature.pressed, pattern=r"^(sub:|uns:|suball$)"),
    ]
