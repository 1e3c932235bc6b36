"""/events (a page at a time), /next, /event <id>, /speakers, /search, and the event card's buttons."""

from __future__ import annotations

import math
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.calendar import event_ics, ics_filename
from bot.chat.core import (
    Context,
    Services,
    answer,
    args_text,
    back_keyboard,
    card_keyboard,
    event_buttons,
    is_private,
    list_line,
    person_line,
    reply,
    show,
    subscribed_to,
)
from bot.chat.texts import t
from bot.domain import Event
from bot.rendering.context import view

NEW = filters.UpdateType.MESSAGE
SEARCH_LIMIT = 10


def matches(event: Event, words: list[str]) -> bool:
    """Every word appears in the title, a speaker's name or affiliation, the moderator or the id (any language)."""
    texts: list[Any] = [event.id, event.title, event.series]
    for person in (*event.speakers, *([event.moderator] if event.moderator else [])):
        texts += [person.name, person.position]
    flat: list[str] = []
    for text in texts:
        if isinstance(text, dict):
            flat += text.values()
        elif text:
            flat.append(text)
    haystack = " ".join(flat).casefold()
    return all(word in haystack for word in words)


class Events:
    def __init__(self, services: Services) -> None:
        self.services = services

    # -- lists ------------------------------------------------------------------------------------

    async def events(self, update: Update, context: Context) -> None:
        text, keyboard = self._page(update, 0)
        await reply(update, context, text, keyboard)

    async def page(self, update: Update, context: Context) -> None:
        query = update.callback_query
        raw = (query.data or "").removeprefix("pg:") if query else ""
        if not raw.isdigit() or len(raw) > 6:
            await answer(query, t("stale_button", self.services.lang(update)))
            return
        await answer(query)
        text, keyboard = self._page(update, int(raw))
        await show(update, context, text, keyboard, edit=True)

    def _page(self, update: Update, number: int) -> tuple[str, InlineKeyboardMarkup | None]:
        services = self.services
        lang = services.lang(update)
        size = services.config.settings.chat.page_size
        events, total = services.chats.upcoming(services.clock(), number * size, size)
        if not total:
            return t("no_events", lang), None
        pages = max(1, math.ceil(total / size))
        if not events:  # the list shrank since the button was made: show the last page
            number = pages - 1
            events, total = services.chats.upcoming(services.clock(), number * size, size)
        lines = [t("events_page", lang, page=number + 1, pages=pages), ""]
        lines += [list_line(event, lang, number * size + index) for index, event in enumerate(events, 1)]
        rows = event_buttons(services, events, lang)
        nav = []
        if number > 0:
            nav.append(InlineKeyboardButton(t("btn_prev", lang), callback_data=f"pg:{number - 1}"))
        if number + 1 < pages:
            nav.append(InlineKeyboardButton(t("btn_next", lang), callback_data=f"pg:{number + 1}"))
        if nav:
            rows.append(nav)
        return "\n".join(lines), InlineKeyboardMarkup(rows)

    # -- one event --------------------------------------------------------------------------------

    async def next(self, update: Update, context: Context) -> None:
        services = self.services
        event = services.chats.next_event(services.clock())
        if event is None:
            await reply(update, context, t("no_events", services.lang(update)))
            return
        await self._card(update, context, event)

    async def event(self, update: Update, context: Context) -> None:
        lang = self.services.lang(update)
        wanted = args_text(context, 100)
        if not wanted:
            await reply(update, context, t("event_usage", lang))
            return
        event = self.services.resolve(wanted.split()[0])
        if event is None:
            await reply(update, context, t("event_not_found", lang, id=wanted[:64]))
            return
        await self._card(update, context, event)

    async def open(self, update: Update, context: Context) -> None:
        event = await self._pressed(update, "ev:")
        if event is not None:
            await self._card(update, context, event)

    async def _card(self, update: Update, context: Context, event: Event) -> None:
        lang = self.services.lang(update)
        keyboard = card_keyboard(self.services, event, lang, subscribed=subscribed_to(self.services, update, event),
                                 private=is_private(update))
        await reply(update, context, self.services.card(event, lang), keyboard)

    async def _pressed(self, update: Update, prefix: str) -> Event | None:
        """The event a button names; a button whose event is gone gets a short note instead."""
        query = update.callback_query
        event = self.services.resolve((query.data or "").removeprefix(prefix)) if query else None
        if event is None:
            await answer(query, t("stale_button", self.services.lang(update)))
            return None
        await answer(query)
        return event

    # -- speakers ---------------------------------------------------------------------------------

    async def speakers(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        wanted = args_text(context, 100)
        event = services.resolve(wanted.split()[0]) if wanted else services.chats.live_or_next(services.clock())
        if event is None:
            await reply(update, context, t("event_not_found", lang, id=wanted[:64]) if wanted else
                        t("no_events", lang))
            return
        await reply(update, context, self._speakers(event, lang), back_keyboard(services, event, lang))

    async def speakers_pressed(self, update: Update, context: Context) -> None:
        event = await self._pressed(update, "sp:")
        if event is not None:
            lang = self.services.lang(update)
            await reply(update, context, self._speakers(event, lang), back_keyboard(self.services, event, lang))

    @staticmethod
    def _speakers(event: Event, lang: str) -> str:
        shown = view(event, lang)
        lines = [t("speakers_of", lang, title=shown.title), ""]
        lines += [person_line(p.name, p.position) for p in shown.speakers] or [t("no_speakers", lang)]
        if shown.moderator:
            lines += ["", f"🎙 <b>{t('moderator', lang)}</b>: " + person_line(shown.moderator.name,
                                                                            shown.moderator.position)[2:]]
        return "\n".join(lines)

    # -- search -----------------------------------------------------------------------------------

    async def search(self, update: Update, context: Context) -> None:
        services = self.services
        lang = services.lang(update)
        query = args_text(context, 100)
        words = [word.casefold() for word in query.split() if word][:10]
        if not words:
            await reply(update, context, t("search_usage", lang))
            return
        now = services.clock()
        found = [e for e in services.chats.all_events() if matches(e, words)]
        # Upcoming first (soonest first), then past ones (latest first).
        found.sort(key=lambda e: (e.end < now, abs((e.start - now).total_seconds())))
        found = found[:SEARCH_LIMIT]
        if not found:
            await reply(update, context, t("search_none", lang, query=query))
            return
        lines = [t("search_found", lang, query=query), ""]
        lines += [list_line(event, lang, index) for index, event in enumerate(found, 1)]
        await reply(update, context, "\n".join(lines), InlineKeyboardMarkup(event_buttons(services, found, lang)))

    # -- calendar ---------------------------------------------------------------------------------

    async def calendar(self, update: Update, context: Context) -> None:
        event = await self._pressed(update, "ics:")
        chat = update.effective_chat
        if event is None or chat is None:
            return
        lang = self.services.lang(update)
        data = event_ics(event, self.services.config.settings.web, lang, now=self.services.clock())
        await context.bot.send_document(
            chat_id=chat.id, document=InputFile(data, filename=ics_filename(event)),
            caption=t("calendar_caption", lang, title=view(event, lang).title)[:1000], parse_mode="HTML",
        )
        if self.services.operations is not None:  # a calendar download, for the reach report
            await self.services.operations.reach.count(event.id, "calendar", "telegram")


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Events(services)
    return [
        CommandHandler("events", feature.events, filters=NEW),
        CommandHandler("next", feature.next, filters=NEW),
        CommandHandler("event", feature.event, filters=NEW),
        CommandHandler("speakers", feature.speakers, filters=NEW),
        CommandHandler("search", feature.search, filters=NEW),
        CallbackQueryHandler(feature.page, pattern=r"^pg:"),
        CallbackQueryHandler(feature.open, pattern=r"^ev:"),
        CallbackQueryHandler(feature.speakers_pressed, pattern=r"^sp:"),
        CallbackQueryHandler(feature.calendar, pattern=r"^ics:"),
    ]


__all__ = ["Events", "handlers", "matches"]
