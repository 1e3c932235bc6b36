"""The interfaces between the core and the outside: publishing adapters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

from bot.domain import Receipt, RenderedPost
from bot.platforms import PlatformSpec


class Adapter(ABC):
    """Publishes rendered posts to one target (a channel, a community, an account, a feed).

    `publish` returns a receipt or raises one of `bot.errors.PublishError`'s subclasses; it never
    lets a platform SDK's own exception escape, so the core needs no SDK to understand failures.
    """

    spec: PlatformSpec

    @abstractmethod
    async def publish(self, post: RenderedPost) -> Receipt:
        """Publish every part of `post`, in order."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections."""


@runtime_checkable
class Pinning(Protocol):
    """An adapter that can point an already-published post at the live stream and pin it (Telegram)."""

    async def pin_live(self, message_id: str, text: str | None, caption: bool) -> None:
        """Replace message `message_id`'s text (or caption) with `text` when given, then pin it quietly."""

    async def unpin(self, message_id: str) -> None:
        """Unpin message `message_id`."""
