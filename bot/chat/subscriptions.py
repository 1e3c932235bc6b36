"""/subscribe, /unsubscribe, /mysubs and the "Remind me" buttons: personal reminders by direct message."""

from __future__ import annotations

from bot.chat.callbacks import Remind, RemindAll, StopReminding
from bot.chat.core import Incoming, Replies, Routes, Services, card_keyboard, event_buttons, keyboard
from bot.chat.texts import t
from bot.domain import Event
from bot.platforms import visible_text
from bot.rendering.context import view
from bot.storage.chat import Subscriptions as Chosen

CARD_ROWS = 3  # a card has three rows of buttons; the offer under a deep link's card has one


class Subscriptions:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def subscribe(self, msg: Incoming, out: Replies) -> None:
        wanted = msg.text(100)
        event = None
        if wanted:
            event = await self.services.resolve(wanted.split()[0])
            if event is None:
                await out.send(t("event_not_found", await self.services.lang(msg), id=wanted[:64]))
                return
        await out.send(await self._subscribe(msg, event))

    async def unsubscribe(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        wanted = msg.text(100)
        event = await services.resolve(wanted.split()[0]) if wanted else None
        if wanted and event is None:
            await out.send(t("event_not_found", lang, id=wanted[:64]))
            return
        if msg.owner is None or not await services.subscribers.unsubscribe(services.messenger, msg.owner,
                                                                           event.id if event else None):
            await out.send(t("not_subscribed", lang))
            return
        title = view(event, lang).title if event else ""
        await out.send(t("unsubscribed_one", lang, title=title) if event else t("unsubscribed_all", lang))

    async def mine(self, msg: Incoming, out: Replies) -> None:
        services = self.services
        lang = await services.lang(msg)
        owner = msg.owner
        subs = await services.read(self._subscriptions, owner) if owner is not None else None
        if subs is None or (not subs.all_events and not subs.event_ids):
            await out.send(t("mysubs_none", lang))
            return
        if subs.all_events:
            await out.send(t("mysubs_all", lang))
            return
        events = [e for e in await services.read(self._events, subs.event_ids) if e is not None]
        await out.send(t("mysubs_events", lang), keyboard(*event_buttons(services, events, lang)))

    def _subscriptions(self, owner: int) -> Chosen:
        return self.services.chats.subscriptions(owner, messenger=self.services.messenger)

    def _events(self, ids: tuple[str, ...]) -> list[Event | None]:
        return [self.services.chats.event(event_id) for event_id in ids]

    async def pressed(self, msg: Incoming, out: Replies) -> None:
        """Remind, StopReminding and RemindAll: change the subscription, then update the card's button."""
        services = self.services
        lang = await services.lang(msg)
        one = Remind.unpack(msg.data) or StopReminding.unpack(msg.data)
        event: Event | None = None
        if one is not None:
            event = await services.resolve(one.event)
            if event is None or msg.owner is None:
                await out.answer(t("stale_button", lang))
                return
        if isinstance(one, StopReminding) and event is not None and msg.owner is not None:
            await services.subscribers.unsubscribe(services.messenger, msg.owner, event.id)
            note = t("unsubscribed_one", lang, title=view(event, lang).title)
        else:
            note = await self._subscribe(msg, event)
        await out.answer(visible_text(note))
        if event is not None and msg.rows >= CARD_ROWS:  # flip the card's button
            buttons = card_keyboard(services, event, lang, subscribed=isinstance(one, Remind), private=msg.private)
            await out.edit_buttons(services.card(event, lang), buttons)
            return
        await out.send(note)

    async def _subscribe(self, msg: Incoming, event: Event | None) -> str:
        services = self.services
        lang = await services.lang(msg)
        if msg.owner is None or msg.chat_id is None:
            return t("hint", lang)
        done = await services.subscribers.subscribe(services.messenger, msg.owner, msg.chat_id, lang,
                                                    event.id if event else None)
        if event is None:
            return t("subscribed_all" if done else "already_all", lang)
        return t("subscribed_one" if done else "already_one", lang, title=view(event, lang).title)


def routes(services: Services) -> Routes:
    feature = Subscriptions(services)
    return Routes(
        commands={"subscribe": feature.subscribe, "unsubscribe": feature.unsubscribe, "mysubs": feature.mine},
        buttons={Remind: feature.pressed, StopReminding: feature.pressed, RemindAll: feature.pressed},
    )
