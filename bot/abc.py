"""The interfaces between the core and the outside: publishing adapters."""

from __future__ import annotations

from abc import ABC, abstractmethod

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
