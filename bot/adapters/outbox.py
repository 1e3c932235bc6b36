"""Publishes to files under the outbox folder: what the bot does for a platform it has no credentials for."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bot.abc import Adapter, PartLog
from bot.domain import Platform, Receipt, RenderedPost
from bot.errors import TransientError
from bot.platforms import SPECS


class OutboxAdapter(Adapter):
    """Writes each post to `<dir>/<platform>/<time>-<event>-<kind>-<target>.txt`, parts separated by a rule."""

    def __init__(self, name: str, platform: Platform, directory: Path) -> None:
        self.name = name
        self.spec = SPECS[platform]
        self.directory = directory / platform.value

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{post.event_id}-{post.kind.value}-{post.target}.txt"
        header = [
            f"target: {post.target} ({self.spec.label}, {post.lang})",
            f"event: {post.event_id}",
            f"kind: {post.kind.value}",
            f"parts: {len(post.parts)}",
        ]
        if post.link:
            header.append(f"link: {post.link}")
        if post.image:
            header.append(f"image: {post.image}")
        body = "\n\n----------\n\n".join(part.text for part in post.parts)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(header) + "\n\n" + body + "\n", encoding="utf-8")
            os.replace(tmp, path)  # a reader never sees half a post
        except OSError as exc:
            raise TransientError(f"cannot write the outbox file {path}: {exc.strerror}") from None
        return Receipt(platform=self.spec.platform, target=self.name, post_id=path.name, link=path.resolve().as_uri())
