"""Dzen without a verified site: posts go to a public Telegram channel that Dzen's sync bot copies, each as ONE
plain-text message (a photo with its caption when the post has an image) that the sync bot turns into a good
Dzen post: the title as the first sentence, the text plain, within Telegram's caption limit with a photo."""

from __future__ import annotations

import html
from html.parser import HTMLParser

from sentencex import segment

from bot.abc import Adapter, PartLog
from bot.adapters.telegram import TelegramAdapter
from bot.config.settings import DzenTarget, TelegramTarget
from bot.domain import Part, Platform, Receipt, RenderedPost
from bot.errors import PermanentError
from bot.platforms import DZEN, TELEGRAM, Markup, utf16_units

# platform-facts (late 2026): Dzen's title is the message's first sentence, at most 140 characters; formatting is
# dropped; a photo caption holds 1,024 characters (a text message 4,096); a photo and a text sent as two
# messages become two Dzen items, so each post is exactly one message.
TITLE_LIMIT = 140
_MORE = {"en": "More", "ru": "Подробнее"}
_ENDS = ".!?…"


class _Plain(HTMLParser):
    """Dzen article HTML to plain paragraphs: a list item as '• text', a link as 'label: url'."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._text: list[str] = []
        self._href: str | None = None
        self._label: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "li", "h1", "h2", "h3", "h4", "blockquote", "figure"):
            self._flush()
            if tag == "li":
                self._text.append("• ")
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._label = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            label = "".join(self._label).strip()
            self._text.append(self._href if not label or label == self._href else f"{label}: {self._href}")
            self._href = None
        elif tag in ("p", "li", "h1", "h2", "h3", "h4", "blockquote"):
            self._flush()

    def handle_data(self, data: str) -> None:
        (self._label if self._href is not None else self._text).append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text and text != "•":
            self.blocks.append(text)
        self._text = []

    def close(self) -> None:
        super().close()
        self._flush()


def plain_blocks(article: str) -> list[str]:
    parser = _Plain()
    parser.feed(article)
    parser.close()
    return parser.blocks


def _key(text: str) -> str:
    """Text compared without case, emoji and punctuation: '🔴 Live: Title' repeats 'Live: Title.'"""
    return "".join(char for char in text.casefold() if char.isalnum())


def _is_line(block: str) -> bool:
    """A short line that is not a sentence (a date, a place): kept with its neighbours, one per line."""
    return len(block) <= 120 and block[-1:] not in _ENDS and not block.endswith(":") and not block.startswith("• ")


def paragraphs(blocks: list[str]) -> list[str]:
    """Blocks regrouped as plain text reads: a list under its heading, short lines together, one per line."""
    grouped: list[str] = []
    for block in blocks:
        last = grouped[-1].rsplit("\n", 1)[-1] if grouped else ""
        listed = block.startswith("• ") and (last.startswith("• ") or last.endswith(":"))
        if grouped and (listed or (_is_line(block) and _is_line(last))):
            grouped[-1] += "\n" + block
        else:
            grouped.append(block)
    return grouped


def title_sentence(title: str, limit: int = TITLE_LIMIT) -> str:
    """The title as a sentence Dzen takes whole for its headline: ended by punctuation, within `limit`."""
    title = " ".join(title.split())
    if len(title) > limit:
        cut = title[: limit - 1]
        title = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:-–—") + "…"
    return title if title[-1:] in _ENDS else title + "."


def sync_text(post: RenderedPost, limit: int) -> str:
    """The one plain-text message for `post`: its title sentence, then as many whole paragraphs as fit in `limit`
    UTF-16 units (the last one cut at a sentence when that fits), then the post's link unless the text has it."""
    title = title_sentence(post.title or post.summary or post.event_id)
    blocks = paragraphs([b for b in plain_blocks(post.text) if _key(b) != _key(title)])
    url = post.link or ""
    link = f"{_MORE.get(post.lang, _MORE['en'])}: {url}" if url else ""
    budget = limit - (utf16_units(link) + 2 if link else 0)
    kept = [title]
    for block in blocks:
        if utf16_units("\n\n".join([*kept, block])) <= budget:
            kept.append(block)
            continue
        sentences = [s.strip() for s in segment(post.lang, block) if s.strip()]
        while sentences and utf16_units("\n\n".join([*kept, " ".join(sentences)])) > budget:
            sentences.pop()
        if sentences:
            kept.append(" ".join(sentences))
        break
    if link and not any(url in block for block in kept):
        kept.append(link)
    text = "\n\n".join(kept)
    if utf16_units(text) > limit:  # only when the title and link alone are longer than the limit
        raise PermanentError(f"Dzen (Telegram sync): the post's title and link alone are longer than {limit}")
    return text


def sync_message(post: RenderedPost) -> RenderedPost:
    """`post` (rendered for Dzen) as the Telegram message the channel gets: one part, plain text escaped for
    Telegram's HTML parse mode, within the caption limit when it goes with a photo."""
    limit = TELEGRAM.part_limit(0, image=bool(post.image))
    text = sync_text(post, limit)
    return post.model_copy(update={
        "platform": Platform.TELEGRAM,
        "markup": Markup.TELEGRAM_HTML.value,
        "parts": (Part(text=html.escape(text, quote=False), length=utf16_units(text)),),
        "limit": limit,
        "fitted": False,
    })


class DzenSyncAdapter(Adapter):
    """Sends each Dzen post as one message to the public channel connected to Dzen's sync bot, through the
    Telegram adapter (composed, not copied). Dzen syncs neither edits nor deletions: a correction is a new post."""

    spec = DZEN

    def __init__(self, name: str, target: DzenTarget) -> None:
        self.name = name
        self.target = target
        assert target.chat_id is not None  # DzenTarget refuses telegram-sync without it
        channel = TelegramTarget(
            platform=Platform.TELEGRAM, chat_id=target.chat_id, url=target.channel_url, lang=target.lang,
            token=target.token, token_file=target.token_file, api_base_url=target.api_base_url,
            timeout=target.timeout,
        )
        self._telegram = TelegramAdapter(name, channel)

    async def prepare(self) -> None:
        await self._telegram.prepare()

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        if post.platform is not Platform.DZEN:
            raise PermanentError(f"a post rendered for {post.platform.value} cannot go to Dzen")
        receipt = await self._telegram.publish(sync_message(post), parts)
        return receipt.model_copy(update={"platform": Platform.DZEN})

    async def aclose(self) -> None:
        await self._telegram.aclose()
