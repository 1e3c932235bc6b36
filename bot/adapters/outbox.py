"""Publishes to files under the outbox folder: what the bot does for a platform it has no credentials for."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.abc import Adapter, PartLog, send_parts
from bot.domain import Platform, Receipt, RenderedPost
from bot.errors import TransientError
from bot.platforms import SPECS


class OutboxAdapter(Adapter):
    """Writes each post to `<dir>/<platform>/<time>-<event>-<kind>-<target>.txt`; a post of several parts
    gets one file per part (`...-2of3.txt`), as the platform would get one message per part."""

    def __init__(
        self, name: str, platform: Platform, directory: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.name = name
        self.spec = SPECS[platform]
        self.directory = directory / platform.value
        self._clock = clock

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        stamp = self._clock().strftime("%Y%m%dT%H%M%S%fZ")
        total = len(post.parts)

        async def send(index: int, log: PartLog) -> str:
            suffix = f"-{index + 1}of{total}" if total > 1 else ""
            path = self.directory / f"{stamp}-{post.event_id}-{post.kind.value}-{post.target}{suffix}.txt"
            header = [
                f"target: {post.target} ({self.spec.label}, {post.lang})",
                f"event: {post.event_id}",
                f"kind: {post.kind.value}",
                f"part: {index + 1} of {total}",
            ]
            if log.done:
                header.append(f"continues: {log.done[0]}")
            if index == 0 and post.link:
                header.append(f"link: {post.link}")
            if index == 0 and post.image:
                header.append(f"image: {post.image}")
            self._write(path, "\n".join(header) + "\n\n" + post.parts[index].text + "\n")
            return path.name

        ids = await send_parts(post, parts, send, self._link)
        return self.receipt(ids, self._link(ids[0]))

    async def edit(self, ids: tuple[str, ...], post: RenderedPost, notice: RenderedPost | None) -> Receipt:
        """The corrected post, in a file of its own that names the one it corrects."""
        stamp = self._clock().strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{post.event_id}-{post.kind.value}-{post.target}-edit.txt"
        header = [f"target: {post.target} ({self.spec.label}, {post.lang})", f"event: {post.event_id}",
                  f"kind: {post.kind.value}", f"edits: {', '.join(ids)}"]
        self._write(path, "\n".join(header) + "\n\n" + "\n\n".join(part.text for part in post.parts) + "\n")
        return self.receipt((path.name,), self._link(path.name))

    def _write(self, path: Path, text: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)  # a reader never sees half a post
        except OSError as exc:
            raise TransientError(f"cannot write the outbox file {path}: {exc.strerror}") from None

    def _link(self, name: str) -> str:
        return (self.directory / name).resolve().as_uri()
