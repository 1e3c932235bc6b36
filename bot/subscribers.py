"""The one way a subscriber's state changes, on any messenger: meeting the bot, choosing a language, subscribing and
unsubscribing; each change runs in a worker thread, never on the event loop the chat bots answer on."""

from __future__ import annotations

import asyncio

from bot.domain import Platform
from bot.storage.chat import ChatStore


class Subscribers:
    """The chat bots' changes of state, part of the operations layer (`Operations.subscribers`). A person is their
    messenger and that messenger's id for them (a group subscribes as itself); `chat_id` is where they are written
    to. `chats` is shared with the readers, so a language just chosen is the one the next reply is written in."""

    def __init__(self, chats: ChatStore) -> None:
        self.chats = chats

    async def meet(self, messenger: Platform, person: int, chat_id: int, lang: str) -> None:
        """Someone writes for the first time (or after blocking the bot): kept, with the language they were
        answered in. Someone already known is left as they are."""

        def meet() -> None:
            if self.chats.lang(person, messenger=messenger) is None:
                self.chats.remember(person, chat_id, lang, messenger=messenger)

        await asyncio.to_thread(meet)

    async def choose_language(self, messenger: Platform, person: int, chat_id: int, lang: str) -> None:
        await asyncio.to_thread(self.chats.remember, person, chat_id, lang, messenger=messenger)

    async def subscribe(self, messenger: Platform, person: int, chat_id: int, lang: str, event_id: str | None) -> bool:
        """Reminders of one event, or of every event (None); False if it was so already."""
        return await asyncio.to_thread(self.chats.subscribe, person, chat_id, lang, event_id, messenger=messenger)

    async def unsubscribe(self, messenger: Platform, person: int, event_id: str | None) -> bool:
        """No more reminders of one event, or of any (None); False if there were none to stop."""
        return await asyncio.to_thread(self.chats.unsubscribe, person, event_id, messenger=messenger)
