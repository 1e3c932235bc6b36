"""The interfaces between the core and the outside: publishing adapters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

from bot.domain import Receipt, RenderedPost
from bot.errors import CredentialsError, PermanentError, PublishError
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

    @staticmethod
    def partial_failure(
        error: PublishError, ids: list[str], total: int, link: str | None, noun: str = "parts"
    ) -> PublishError:
        """The error of a post that went out in part (a thread, a split post), saying which parts are out.

        A retry would publish every part again, so whatever went wrong the error is not retryable: a
        transient fault or a rate limit on a later part becomes a PermanentError (a CredentialsError stays
        one, since it must stop the platform). The organiser completes or deletes the post by hand.
        """
        note = (
            f" -- {len(ids)} of {total} {noun} had already been published ({', '.join(ids)}"
            f"{'; ' + link if link else ''}); not retried, as a retry would publish them again"
        )
        if isinstance(error, CredentialsError):
            return CredentialsError(f"{error}{note}")
        return PermanentError(f"{error}{note}")


@runtime_checkable
class Pinning(Protocol):
    """An adapter that can point an already-published post at the live stream and pin it (Telegram)."""

    async def pin_live(self, message_id: str, text: str | None, caption: bool) -> None:
        """Replace message `message_id`'s text (or caption) with `text` when given, then pin it quietly."""

    async def unpin(self, message_id: str) -> None:
        """Unpin message `message_id`."""
