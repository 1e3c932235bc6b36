"""/events (a page at a time), /next, /event <id>, /speakers, /search, and the event card's buttons."""

from __future__ import annotations

import math
from typing import Any

from bot.calendar import event_ics, ics_filename
from bot.chat.callbacks import Calendar, EventCard, Page, Speakers
from bot.chat.core import (
    Button,
    Incoming,
    Keyboard,
    Replies,
    Routes,
    Services,
    back_keyboard,
    card_keyboard,
    event_buttons,
    keyboard,
    list_line,
    person_line,
)
from bot.chat.texts import t
from bot.domain import Event
from bot.rendering.context import view

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

    async def events(self, msg: Incoming, out: Replies) -> None:
        text, buttons = await self._page(msg, 0)
        await out.send(text, buttons)

    async def page(self, msg: Incoming, out: Replies) -> None:
        pressed = Page.unpack(msg.data)
        if pressed is None or pressed.number > 999_999:
            await out.answer(t("stale_button", await self.services.lang(msg)))
            return
        await out.answer()
        text, buttons = await self._page(msg, pressed.number)
        await out.edit(text, buttons)

    async def _page(self, msg: Incoming, number: int) -> tuple[str, Keyboard | None]:
        services = self.services
        lang = await services.lang(msg)
        size = services.config.settings.chat.page_size
        now = services.clock()
        events, total = await services.read(services.chats.upcoming, now, number * size, size)
        if not total:
            return t("no_events", lang), None
        pages = max(1, math.ceil(total / size))
        if not events:  # the list shrank since the button was made: show the last page
            number = pages - 1
            events, total = await services.read(services.chats.upcoming, now, number * size, size)
        lines = [t("events_page", lang, page=number + 1, pages=pages), ""]
        lines += [list_line(event, lang, number * size + index) for index, event in enumerate(events, 1)]
        rows = event_buttons(services, events, lang)
        nav = []
        if number > 0:
            nav.append(Button(text=t("btn_prev", lang), data=Page(number - 1)))
        if number + 1 < pages:
            nav.append(Button(text=t("btn_next", lang), data=Page(number + 1)))
        return "\n".join(lines), keyboard(*rows, nav)

    # -- one event --------------------------------------------------------------------------------

    async def next(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        event = await services.first("next")
        if event is None:
            await out.send(t("no_events", await services.lang(msg)))
            return
        await self._card(msg, out, event)

    async def event(self, msg: Incoming, out: Replies) -> None:
        lang = await self.services.lang(msg)
        wanted = msg.text(100)
        if not wanted:
            await out.send(t("event_usage", lang))
            return
        event = await self.services.resolve(wanted.split()[0])
        if event is None:
            await out.send(t("event_not_found", lang, id=wanted[:64]))
            return
        await self._card(msg, out, event)

    async def open(self, msg: Incoming, out: Replies) -> None:
        pressed = EventCard.unpack(msg.data)
        event = await self._pressed(msg, out, pressed.event if pressed else None)
        if event is not None:
            await self._card(msg, out, event)

    async def _card(self, msg: Incoming, out: Replies, event: Event) -> None:
        services = self.services
        lang = await services.lang(msg)
        buttons = card_keyboard(services, event, lang, subscribed=await services.subscribed(msg, event),
                                private=msg.private)
        await out.send(services.card(event, lang), buttons)

    async def _pressed(self, msg: Incoming, out: Replies, key: str | None) -> Event | None:
        """The event a button names; a button whose event is gone gets a short note instead."""
        event = await self.services.resolve(key) if key is not None else None
        if event is None:
            await out.answer(t("stale_button", await self.services.lang(msg)))
            return None
        await out.answer()
        return event

    # -- speakers ---------------------------------------------------------------------------------

    async def speakers(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        wanted = msg.text(100)
        event = await services.resolve(wanted.split()[0]) if wanted else await services.first("live")
        if event is None:
            await out.send(t("event_not_found", lang, id=wanted[:64]) if wanted else t("no_events", lang))
            return
        await out.send(self._speakers(event, lang), back_keyboard(services, event, lang))

    async def speakers_pressed(self, msg: Incoming, out: Replies) -> None:
        pressed = Speakers.unpack(msg.data)
        event = await self._pressed(msg, out, pressed.event if pressed else None)
        if event is not None:
            lang = await self.services.lang(msg)
            await out.send(self._speakers(event, lang), back_keyboard(self.services, event, lang))

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

    async def search(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        query = msg.text(100)
        words = [word.casefold() for word in query.split() if word][:10]
        if not words:
            await out.send(t("search_usage", lang))
            return
        now = services.clock()
        found = [e for e in await services.read(services.chats.all_events) if matches(e, words)]
        # Upcoming first (soonest first), then past ones (latest first).
        found.sort(key=lambda e: (e.end < now, abs((e.start - now).total_seconds())))
        found = found[:SEARCH_LIMIT]
        if not found:
            await out.send(t("search_none", lang, query=query))
            return
        lines = [t("search_found", lang, query=query), ""]
        lines += [list_line(event, lang, index) for index, event in enumerate(found, 1)]
        await out.send("\n".join(lines), keyboard(*event_buttons(services, found, lang)))

    # -- calendar ---------------------------------------------------------------------------------

    async def calendar(self, msg: Incoming, out: Replies) -> None:
        pressed = Calendar.unpack(msg.data)
        event = await self._pressed(msg, out, pressed.event if pressed else None)
        if event is None or msg.chat_id is None:
            return
        services = self.services
        lang = await services.lang(msg)
        data = event_ics(event, services.config.settings.web, lang, now=services.clock())
        await out.send_file(ics_filename(event), data, t("calendar_caption", lang, title=view(event, lang).title))
        if services.operations is not None:  # a calendar download, for the reach report
            await services.operations.reach.count(event.id, "calendar", services.messenger)


def routes(services: Services) -> Routes:
    feature = Events(services)
    return Routes(
        commands={"events": feature.events, "next": feature.next, "event": feature.event,
                  "speakers": feature.speakers, "search": feature.search},
        buttons={Page: feature.page, EventCard: feature.open, Speakers: feature.speakers_pressed,
                 Calendar: feature.calendar},
    )


__all__ = ["Events", "matches", "routes"]
