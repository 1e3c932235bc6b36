"""Publishes to Dzen: by adding or updating an item in an RSS feed file in Dzen's unified import format, or
(`route = "telegram-sync"`) through a Telegram channel Dzen's sync bot copies (bot/adapters/dzen_sync.py)."""

from __future__ import annotations

import asyncio
import fcntl
import html
import mimetypes
import os
import re
import tempfile
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot.abc import Adapter, PartLog
from bot.config.settings import DzenTarget
from bot.domain import Platform, PostKind, Receipt, RenderedPost
from bot.errors import PermanentError, TransientError
from bot.platforms import DZEN
from bot.summaries import clip

# dzen.ru/help/ru/website/rss-modify: the namespaces a Dzen feed declares.
NAMESPACES: dict[str, str] = {
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
    "atom": "http://www.w3.org/2005/Atom",
}
MAX_ITEMS = 500  # Dzen reads at most 500 items of a feed
LEAD_LENGTH = 300
_SENTENCE_END = re.compile(r"[.!?…]\W*$")

_CONTENT = "{" + NAMESPACES["content"] + "}encoded"
_PARAGRAPH = re.compile(r"<p\b[^>]*>(.*?)</p\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, kw_only=True)
class FeedItem:
    """One item of the feed, as written to and read back from the file."""

    guid: str
    title: str
    link: str
    pub_date: datetime
    description: str
    content: str  # the article HTML (content:encoded)
    categories: tuple[str, ...]  # Dzen's directives: native-draft, format-article, index, comment-all
    image: str | None = None
    content_type: str = ""  # the unified RSS's per-item <contentType>: news, news_only or blogs_only
    image_length: int | None = None  # the enclosure's size in bytes (RSS 2.0); 0 is written when it is not known


def directives(target: DzenTarget) -> tuple[str, ...]:
    """Dzen's directive categories for an item published to `target`."""
    found = ["native-draft"] if target.draft else []
    return (*found, f"format-{target.post_format}", "index", "comment-all")


def lead(article: str, limit: int = LEAD_LENGTH) -> str:
    """A plain-text lead for a post that brings no synopsis: the first paragraph that is a sentence (not the
    series, title or date lines above it), else the first non-empty one, cut at a word boundary."""
    paragraphs = [p for p in (_plain(p) for p in _PARAGRAPH.findall(article)) if p]
    text = next((p for p in paragraphs if _SENTENCE_END.search(p)), paragraphs[0] if paragraphs else _plain(article))
    return clip(text, limit)


def image_type(url: str) -> str:
    """The MIME type of an image from its URL's extension; JPEG when it cannot be told."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return "image/png" if guessed == "image/png" else "image/jpeg"


def _key(text: str) -> str:
    """Text compared without case, emoji and punctuation: '❗ Отменено: Title' repeats 'Отменено: Title'."""
    return "".join(char for char in text.casefold() if char.isalnum())


def without_title(article: str, title: str) -> str:
    """The article without the paragraph that only says its title again: Dzen shows the title above the body."""
    key = _key(title)
    for match in _PARAGRAPH_WHOLE.finditer(article):
        if _key(_plain(match.group(1))) == key:
            return article[:match.start()] + article[match.end():]
    return article


_PARAGRAPH_WHOLE = re.compile(r"<p\b[^>]*>(.*?)</p\s*>\n?", re.IGNORECASE | re.DOTALL)
_FIGURE = re.compile(r"^\s*<figure>.*?</figure>\n?", re.DOTALL)
_NOTICE = re.compile(r"^\s*<blockquote>.*?</blockquote>\n?", re.DOTALL)


def body_of(article: str) -> str:
    """An item's article without the cover and the change notice the feed put on top of it."""
    return _NOTICE.sub("", _FIGURE.sub("", article, count=1), count=1)


def with_notice(body: str, notice: RenderedPost) -> str:
    """The article with a change notice on top (a cancellation, a new date): what changed, then what it was."""
    said = without_title(notice.text, notice.title).strip()
    return f"<blockquote>{said}</blockquote>\n{body}"


def with_cover(article: str, image: str | None, alt: str) -> str:
    """The article with its cover on top as a <figure> (Dzen shows the body's first image), once."""
    if not image or f'src="{html.escape(image)}"' in article:
        return article
    return f'<figure><img src="{html.escape(image)}" alt="{html.escape(alt)}"></figure>\n{article}'


def render_feed(items: Iterable[FeedItem], target: DzenTarget) -> bytes:
    """The feed document holding `items` in the given order (pure: no clock, no files)."""
    declarations = {f"xmlns:{prefix}": uri for prefix, uri in NAMESPACES.items()}
    rss = ET.Element("rss", {"version": "2.0", **declarations})
    channel = ET.SubElement(rss, "channel")
    _add(channel, "title", target.feed_title)
    _add(channel, "link", target.site_url)
    _add(channel, "description", target.feed_title)
    _add(channel, "language", target.lang)
    if target.feed_url:
        ET.SubElement(channel, "atom:link", href=target.feed_url, rel="self", type="application/rss+xml")
    for item in items:
        node = ET.SubElement(channel, "item")
        _add(node, "title", item.title)
        _add(node, "link", item.link)
        _add(node, "guid", item.guid, isPermaLink="false")
        _add(node, "pubDate", format_datetime(item.pub_date.astimezone(UTC), usegmt=True))
        _add(node, "media:rating", "nonadult", scheme="urn:simple")
        if item.content_type:
            _add(node, "contentType", item.content_type)
        for category in item.categories:
            _add(node, "category", category)
        if item.image:
            ET.SubElement(node, "enclosure", url=item.image, type=image_type(item.image),
                          length=str(item.image_length or 0))
        # Readers take a description as HTML: the plain synopsis is escaped for HTML here, then for XML by
        # ElementTree, so "Russia & China <in>" reads as itself (escaped once, a reader would drop "<in>").
        _add(node, "description", html.escape(item.description, quote=False))
        _add(node, "content:encoded", item.content)
    ET.indent(rss)
    document: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def parse_feed(data: bytes, source: str) -> list[FeedItem]:
    """The items of a feed document; PermanentError naming `source` if it is not a feed we can read."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise PermanentError(f"the Dzen feed {source} is not valid XML ({exc}); fix or move it away") from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise PermanentError(f"the Dzen feed {source} is not an RSS feed (no rss/channel); fix or move it away")
    return [_read_item(node, source, number) for number, node in enumerate(channel.findall("item"), 1)]


def load_feed(path: Path) -> list[FeedItem]:
    """The items of the feed file at `path`, none if it does not exist yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return parse_feed(data, str(path))


def _read_item(node: ET.Element, source: str, number: int) -> FeedItem:
    guid = (node.findtext("guid") or "").strip()
    stamp = (node.findtext("pubDate") or "").strip()
    try:
        pub_date = parsedate_to_datetime(stamp)
    except (TypeError, ValueError):
        pub_date = None
    if not guid or pub_date is None:
        raise PermanentError(
            f"the Dzen feed {source}: item {number} has no guid or no readable pubDate; fix or move it away"
        )
    enclosure = node.find("enclosure")
    return FeedItem(
        guid=guid,
        title=node.findtext("title") or "",
        link=node.findtext("link") or "",
        pub_date=pub_date if pub_date.tzinfo else pub_date.replace(tzinfo=UTC),
        description=html.unescape(node.findtext("description") or ""),
        content=node.findtext(_CONTENT) or "",
        categories=tuple(c.text.strip() for c in node.findall("category") if c.text and c.text.strip()),
        image=enclosure.get("url") if enclosure is not None else None,
        content_type=(node.findtext("contentType") or "").strip(),
        image_length=int(length) if enclosure is not None and (length := enclosure.get("length", "")).isdigit()
        and int(length) else None,
    )


# Characters XML 1.0 cannot hold at all (escaped or not): a feed with one is refused whole.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _add(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    node.text = _NOT_XML.sub("", text)
    return node


def _plain(markup: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def _utc_now() -> datetime:
    return datetime.now(UTC)


# One lock per feed file and event loop, so concurrent publishes to one feed never lose an item.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock_for(path: Path) -> asyncio.Lock:
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(path)
    if lock is None:
        lock = locks[path] = asyncio.Lock()
    return lock


def DzenAdapter(name: str, target: DzenTarget, now: Callable[[], datetime] = _utc_now) -> Adapter:
    """The adapter of a Dzen target's route (the registry's entry point for Dzen)."""
    if target.route == "telegram-sync":
        from bot.adapters.dzen_sync import DzenSyncAdapter

        return DzenSyncAdapter(name, target)
    return DzenFeedAdapter(name, target, now)


class DzenFeedAdapter(Adapter):
    """Keeps `target.feed_path` a Dzen RSS feed, the last few days: one article per event (the announcement,
    updated in place when the event changes: the change notice on top), a summary article with its own title after
    it, and a reminder only when a campaign step sends one to Dzen."""

    spec = DZEN

    def __init__(self, name: str, target: DzenTarget, now: Callable[[], datetime] = _utc_now) -> None:
        self.name = name
        self.target = target
        self.path = target.feed_path.resolve()
        self._now = now

    async def edit(self, ids: tuple[str, ...], post: RenderedPost, notice: RenderedPost | None) -> Receipt:
        """The item written again with its guid, the change notice on top: Dzen takes the new version of the
        same article (within its 7 days)."""
        return await self._write_item(post, notice)

    async def publish(self, post: RenderedPost, parts: PartLog | None = None) -> Receipt:
        if post.kind is PostKind.CHANGED:
            # Not a second article: the event's article says what changed, on top (the correction of the
            # announcement rewrites it the same way).
            return await self._write_item(None, post)
        return await self._write_item(post, None)

    async def _write_item(self, post: RenderedPost | None, notice: RenderedPost | None) -> Receipt:
        for one in (post, notice):
            if one is not None and one.platform is not Platform.DZEN:
                raise PermanentError(f"a post rendered for {one.platform.value} cannot go to the Dzen feed")
        now = self._now()
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        main = post or notice
        assert main is not None
        guid = self.guid(main)
        async with _lock_for(self.path):
            item = await asyncio.to_thread(self._update, guid, lambda old: self._item(post, notice, old, guid, now),
                                           now)
        return Receipt(platform=Platform.DZEN, target=self.name, post_id=item.guid, link=item.link)

    @staticmethod
    def guid(post: RenderedPost) -> str:
        """One article per event: the announcement's guid for the announcement and any change to it."""
        kind = PostKind.ANNOUNCEMENT if post.kind is PostKind.CHANGED else post.kind
        return f"{post.event_id}-{kind.value}"

    def _item(self, post: RenderedPost | None, notice: RenderedPost | None, old: FeedItem | None, guid: str,
              now: datetime) -> FeedItem:
        """The item for `post` (the announcement again, or another kind), with `notice` on top if given; a notice
        alone updates the article already in the feed (`old`), keeping its body, picture and date."""
        main = post or notice
        assert main is not None
        if post is not None:
            body = without_title(post.text, post.title)
        else:
            body = body_of(old.content) if old is not None else ""
        if notice is not None:
            body = with_notice(body, notice)
        title = ((notice or main).title.strip() or main.summary or main.event_id)
        description = (notice or main).summary or lead(body)
        image = main.image or (old.image if old is not None else None)
        length = main.image_length if main.image else (old.image_length if old is not None else None)
        return FeedItem(
            guid=guid,
            title=title,
            link=main.link or (old.link if old is not None else "") or self.target.site_url,
            # A change keeps the article's date: the same article, edited.
            pub_date=old.pub_date if old is not None and post is None else now,
            description=description,
            content=with_cover(body, image, title),
            categories=directives(self.target),
            image=image,
            content_type=self.target.content_type,
            image_length=length,
        )

    def _update(self, guid: str, build: Callable[[FeedItem | None], FeedItem], now: datetime) -> FeedItem:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Replicas sharing the feed's folder take turns: an advisory lock on the folder itself.
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                fcntl.flock(folder, fcntl.LOCK_EX)
                found = load_feed(self.path)
                item = build(next((old for old in found if old.guid == guid), None))
                items = [old for old in found if old.guid != guid]
                cutoff = now - timedelta(days=self.target.window_days)
                # The item written now stays, even an article from before the window updated in place.
                kept = sorted((i for i in [item, *items] if i is item or i.pub_date >= cutoff),
                              key=lambda i: i.pub_date, reverse=True)
                self._write(render_feed(kept[:MAX_ITEMS], self.target))
            finally:
                os.close(folder)  # closing releases the lock
        except OSError as exc:
            raise TransientError(f"cannot update the Dzen feed {self.path}: {exc.strerror or exc}") from None
        return item

    def _write(self, data: bytes) -> None:
        # Written beside the feed and renamed over it, so a reader sees the old feed or the new one.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            try:
                mode = self.path.stat().st_mode & 0o777
            except FileNotFoundError:
                mode = 0o644  # a web server has to read the feed
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _sync_folder(self.path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable where the platform allows opening a folder."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
