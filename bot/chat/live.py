"""/live and the "Live links" button: where to watch the event that is on now or starts next."""

from __future__ import annotations

from bot.chat.callbacks import LiveLinks
from bot.chat.core import Incoming, Replies, Routes, Services, back_keyboard, live_lines, when_line
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

    async def live(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        now = services.clock()
        event = await services.first("live")
        if event is None:
            await out.send(t("no_events", lang))
            return
        await out.send(live_text(event, lang, on_now=event.start <= now), back_keyboard(services, event, lang))

    async def pressed(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        pressed = LiveLinks.unpack(msg.data)
        event = await services.resolve(pressed.event) if pressed else None
        if event is None:
            await out.answer(t("stale_button", lang))
            return
        await out.answer()
        now = services.clock()
        await out.send(live_text(event, lang, on_now=event.start <= now < event.end),
                       back_keyboard(services, event, lang))


def routes(services: Services) -> Routes:
    feature = Live(services)
    return Routes(commands={"live": feature.live}, buttons={LiveLinks: feature.pressed})
