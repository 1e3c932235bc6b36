"""/start (with the `event_<id>` deep link of the channel's "Remind me" button) and /help."""

from __future__ import annotations

from bot.chat.callbacks import Remind, RemindAll
from bot.chat.core import Button, Incoming, Replies, Routes, Services, card_keyboard, keyboard
from bot.chat.lang import lang_keyboard
from bot.chat.texts import greeting, t


class Start:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def start(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        payload = (msg.args or ("",))[0]
        if msg.owner is not None and msg.chat_id is not None:  # met: their language is kept from now on
            await services.subscribers.meet(services.messenger, msg.owner, msg.chat_id, lang)
        if payload.startswith("event_"):
            event = await services.resolve(payload.removeprefix("event_"))
            if event is not None:
                subscribed = await services.subscribed(msg, event)
                buttons = card_keyboard(services, event, lang, subscribed=subscribed, private=msg.private)
                await out.send(services.card(event, lang), buttons)
                if not subscribed and msg.private:
                    await out.send(t("offer_subscribe", lang), keyboard([
                        Button(text=t("btn_remind", lang), data=Remind(services.key(event.id))),
                        Button(text=t("btn_all", lang), data=RemindAll()),
                    ]))
                return
            await out.send(t("event_not_found", lang, id=payload.removeprefix("event_")[:64]))
        name = msg.name or t("friend", lang)
        text = greeting(lang, name, services.config.settings.organisation.name_in(lang))
        await out.send(text, lang_keyboard(lang))

    async def help(self, msg: Incoming, out: Replies) -> None:
        await out.send(t("help", await self.services.lang(msg)))


def routes(services: Services) -> Routes:
    feature = Start(services)
    return Routes(commands={"start": feature.start, "help": feature.help})
