"""The interfaces between the core and the outside: publishing adapters, the log of a post's parts, reading back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from uuid import uuid4

from bot.domain import Receipt, RenderedPost
from bot.errors import CredentialsError, PermanentError, PublishError
from bot.platforms import PlatformSpec


@runtime_checkable
class PartLog(Protocol):
    """What earlier attempts already published of one post, and where each newly published part is recorded.

    A post of several parts (a thread, a long Telegram post split in messages, two VK wall posts) may fail
    after some of its parts went out. Each part's id is recorded as soon as the platform accepted it, so
    a later attempt publishes only the remaining parts, continuing the chain (a reply to the right earlier
    part) instead of publishing the whole post a second time.
    """

    @property
    def key(self) -> str:
        """A stable identity of this publication across attempts (VK's `guid` is derived from it)."""

    @property
    def done(self) -> tuple[str, ...]:
        """The ids of the parts already published, in order (empty on a first attempt)."""

    async def record(self, part_id: str) -> None:
        """Make part `part_id` (the next one) durable before the next part is sent."""


@dataclass
class MemoryParts:
    """A PartLog kept in memory: for a dry run, a test, or a one-off send with nothing to resume."""

    # Unique unless given: VK deduplicates wall posts by a guid derived from the key, so two different
    # posts must never share one.
    key: str = field(default_factory=lambda: f"memory-{uuid4().hex}")
    done: tuple[str, ...] = ()
    recorded: list[str] = field(default_factory=list)

    async def record(self, part_id: str) -> None:
        self.done = (*self.done, part_id)
        self.recorded.append(part_id)


class Adapter(ABC):
    """Publishes rendered posts to one target (a channel, a community, an account, a feed).

    The contract every adapter keeps, so that the core needs no SDK to understand what happened:

    - `prepare()` does everything needed before the first byte of a post may leave (Telegram's `getMe`);
      a failure there means nothing was published.
    - `publish()` sends `post.parts[len(parts.done):]` in order, awaiting `parts.record(id)` after each
      part the platform accepted, and returns the receipt of the whole post (every part's id).
    - It raises only `bot.errors.PublishError` subclasses, never an SDK's exception, and never text that
      holds a credential. A failure before the request can have left (DNS, connection refused, connect
      timeout, no free connection) is a TransientError; once the request may have reached the platform
      (the connection dropped, reset or timed out while sending or waiting for the answer) it is
      OutcomeUnknown, unless the platform deduplicates repeated calls (`idempotent`). The rule is written
      once, in bot/adapters/transport.py. A failure after some parts is raised as what it is: those parts
      are in the log, and the next attempt continues after them.
    """

    spec: PlatformSpec
    name: str
    # True when a repeated call with the same idempotency key cannot publish twice (VK's wall.post guid):
    # then an uncertain outcome may simply be retried.
    idempotent: bool = False

    async def prepare(self) -> None:  # noqa: B027 - optional hook, most adapters need nothing
        """Connect or authenticate ahead of sending; publishes nothing."""

    @abstractmethod
    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        """Publish the parts of `post` not yet in `parts` (all of them when `parts` is None), in order."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections."""

    def receipt(self, ids: tuple[str, ...], link: str | None) -> Receipt:
        """The receipt of a whole post: the first part's id and link, and the ids of the others."""
        return Receipt(platform=self.spec.platform, target=self.name, post_id=ids[0], link=link,
                       extra_ids=ids[1:])


# Publishes part `index` of a post and returns its id; the log gives the ids already out (to reply to) and
# the publication's key (VK's guid).
SendPart = Callable[[int, PartLog], Awaitable[str]]


async def send_parts(
    post: RenderedPost, parts: PartLog | None, send: SendPart, link: Callable[[str], str | None],
    noun: str = "parts",
) -> tuple[str, ...]:
    """Send the parts of `post` not yet in `parts`, in order, recording each id before the next is sent;
    return the ids of all the parts.

    Without a PartLog (`parts=None`) the log lives only for this call, so a later attempt could not continue
    after the parts sent now: a failure once some went out is then not retryable, and says what was published.
    """
    log = parts if parts is not None else MemoryParts()
    if not post.parts:
        raise PermanentError(f"{post.target}: the post has no text to publish")
    if len(log.done) > len(post.parts):
        raise PermanentError(
            f"{post.target}: {len(log.done)} parts are recorded as published but the post has {len(post.parts)}; "
            "it changed since the first attempt and is not sent again"
        )
    failure: PublishError | None = None
    for index in range(len(log.done), len(post.parts)):
        try:
            part_id = await send(index, log)
        except PublishError as error:
            failure = error
            break
        await log.record(part_id)
    if failure is None:
        return log.done
    if parts is None and log.done:
        failure = _unresumable(failure, log.done, len(post.parts), link(log.done[0]), noun)
    # Raised outside the except block, so that no SDK exception (which may hold a credential) rides along.
    raise failure


def _unresumable(error: PublishError, ids: tuple[str, ...], total: int, link: str | None, noun: str) -> PublishError:
    note = (
        f" -- {len(ids)} of {total} {noun} had already been published ({', '.join(ids)}"
        f"{'; ' + link if link else ''}); not retried, as nothing records them for a later attempt to continue"
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


@runtime_checkable
class Editing(Protocol):
    """An adapter that can correct a post it published, when the event changed after it went out.

    `ids` are the published parts' ids; `post` is the post rendered anew for the event as it is now; `notice` is
    the change notice, for a platform that cannot edit (a reply to the thread instead) or refuses to (a comment).
    Returns the receipt of what was done (the edited post, or the reply or comment)."""

    async def edit(self, ids: tuple[str, ...], post: RenderedPost, notice: RenderedPost | None) -> Receipt:
        """Correct the published post `ids` to read as `post` (or add `notice` to it where editing is impossible)."""



# A post's metrics as read back, by name: views (VK), impressions (X), likes, reposts, comments or replies, quotes,
# bookmarks, reactions (Telegram). A platform gives only some of them: what it does not give is left out.
Metrics = dict[str, int]


@runtime_checkable
class Reading(Protocol):
    """An adapter that can read its published posts' metrics back (VK's wall.getById, X's tweets lookup).

    `ids` are published posts' ids as the receipts gave them (at most `read_batch` at once); the answer maps each id
    the platform still has to its metrics. It raises PublishError subclasses, as publishing does: RateLimited,
    TransientError (a read is always safe to repeat), CredentialsError, PermanentError."""

    read_batch: int

    async def read_reach(self, ids: Sequence[str]) -> dict[str, Metrics]:
        """The metrics of the posts `ids`, by id."""
