"""Reactions to the channel's posts: Telegram's reaction counts (message_reaction_count updates, which a bot that
administers the channel receives when it asks for them), kept as readings of the posts' reach."""

from __future__ import annotations

import logging
from typing import Any

from telegram import ReactionTypeCustomEmoji, ReactionTypeEmoji, Update
from telegram.ext import BaseHandler, MessageReactionHandler

from bot.chat.core import Services
from bot.chat.telegram import Context

log = logging.getLogger("announce_bot.chat.reactions")


def reaction_name(kind: object) -> str:
    """👍, a custom emoji's id, or the type Telegram names (paid)."""
    if isinstance(kind, ReactionTypeEmoji):
        return kind.emoji
    if isinstance(kind, ReactionTypeCustomEmoji):
        return f"custom:{kind.custom_emoji_id}"
    return str(getattr(kind, "type", "other"))


class Reactions:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def counted(self, update: Update, context: Context) -> None:
        changed = update.message_reaction_count
        ops = self.services.operations
        if changed is None or ops is None:
            return
        counts: dict[str, int] = {}
        for reaction in changed.reactions:
            name = reaction_name(reaction.type)
            counts[name] = counts.get(name, 0) + reaction.total_count
        found = await ops.reach.reactions(changed.chat.id, changed.chat.username, changed.message_id, counts,
                                          changed.date)
        if not found:
            log.debug("reactions on message %s of chat %s: no post of ours", changed.message_id, changed.chat.id)


def handlers(services: Services) -> list[BaseHandler[Update, Any, Any]]:
    feature = Reactions(services)
    return [MessageReactionHandler(feature.counted,
                                   message_reaction_types=MessageReactionHandler.MESSAGE_REACTION_COUNT_UPDATED)]
