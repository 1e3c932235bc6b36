"""/live and the "Live links" button: where to watch the event that is on now or starts next."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.chat.core import Context, Services, answer, back_keyboard, live_lines, reply, when_line
from bot.chat.texts import t
from bot.domain import Event
from bot.rendering.context import view


def live_text(event: Event, lang: str, *, on_now: bool) -> str:
    shown = view(event, lang)
    head = t("live_now", lang, title=shown.title) if on_now else \
        t("live_next", lang, title=shown.title, when=when_line(shown, lang))
    return "\n".join([head, "", *(live_lines(shown) or [t("live_none", lang)])])


class Live:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def live(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        now = services.clock()
        event = services.chats.live_or_next(now)
        if event is None:
            await reply(update, context, t("no_events", lang))
            return
        await reply(update, context, live_text(event, lang, on_now=event.start <= now),
                    back_keyboard(services, event, lang))

    async def pressed(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        query = update.callback_query
        event = services.resolve((query.data or "").removeprefix("lv:")) if query else None
        if event is None:
            await answer(query, t("stale_button", lang))
            return
        await answer(query)
        now = services.clock()
        await reply(update, context, live_text(event, lang, on_now=event.start <= now < event.end),
                    back_keyboard(services, event, lang))


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Live(services)
    return [
        CommandHandler("live", feature.live, filters=filters.UpdateType.MESSAGE),
        CallbackQueryHandler(feature.pressed, pattern=r"^lv:"),
    ]
