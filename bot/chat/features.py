"""Every feature's routes in one table, and what answers the updates no feature takes (the same on every
messenger: each messenger's front end only translates updates into `Incoming` and replies into its own calls)."""

from __future__ import annotations

from bot.chat import admin, events, lang, live, start, subscriptions
from bot.chat.approvals import Approvals
from bot.chat.core import Incoming, Replies, Routes, Services
from bot.chat.texts import t

COMMANDS = ("start", "events", "next", "live", "speakers", "search", "subscribe", "unsubscribe", "mysubs", "lang",
            "help")  # the menu, in this order


def routes(services: Services, approvals: Approvals) -> Routes:
    table = Routes()
    for feature in (start, lang, events, live, subscriptions, admin):
        table += feature.routes(services)
    return table + approvals.routes(services)


class Fallbacks:
    """What no feature took: edited messages, unknown commands, other input in private, stale buttons."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def edited(self, msg: Incoming, out: Replies) -> None:
        if msg.private:
            await out.send(t("edited", await self.services.lang(msg)))

    async def unknown_command(self, msg: Incoming, out: Replies) -> None:
        addressee = msg.addressee or ""
        if addressee and addressee.lower() != self.services.bot_username.lower():
            return  # another bot's command in a group
        if msg.private or addressee:
            await out.send(t("unknown_command", await self.services.lang(msg)))

    async def other(self, msg: Incoming, out: Replies) -> None:
        """Anything else in a private chat (in a group, people talk among themselves)."""
        if msg.private:
            await out.send(t("hint", await self.services.lang(msg)))

    async def stale(self, msg: Incoming, out: Replies) -> None:
        await out.answer(t("stale_button", await self.services.lang(msg)))
