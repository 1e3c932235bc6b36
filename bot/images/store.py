"""Generated cards on disk (`[branding] cards_dir`), keyed by what they show and their size, and their links."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from bot.config.settings import Settings
from bot.domain import Event, RenderedPost, pick
from bot.images.cards import DESIGN_VERSION, PLATFORM_SIZES, CardContent, CardSize, Style, content_of, draw_card
from bot.images.cards import organisation_name as _organisation_name
from bot.images.fonts import INSTALL_HINT, Face, chain, missing
from bot.links import absolute, path

log = logging.getLogger(__name__)
_warned: set[str] = set()


class CardStore:
    """Draws each card once: a file per event, language, size and content; a changed event gets a new file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.branding = settings.branding
        self.dir = settings.branding.cards_dir
        self.style = Style.of(settings.branding)

    @property
    def faces(self) -> tuple[Face, ...]:
        """The fonts found, read once per process (fonts.chain is cached)."""
        return chain(self.branding.font, self.branding.font_bold)

    def organisation(self, event: Event, lang: str) -> str:
        own = pick(event.organiser, lang, event.lang)
        fallback = self.settings.organisation.title.get(lang) or self.settings.web.site_title or (
            own[:1].upper() + own[1:])
        return _organisation_name(self.branding, lang, fallback)

    def content(self, event: Event, lang: str) -> CardContent:
        return content_of(event, lang, self.organisation(event, lang))

    def key(self, event: Event, lang: str, size: CardSize) -> str:
        """A digest of everything the card depends on: its texts, size, colours, logo and fonts, the design."""
        logo = self.style.logo
        logo_stamp = None
        if logo is not None and logo.is_file():
            stat = logo.stat()
            logo_stamp = [str(logo), stat.st_size, stat.st_mtime_ns]
        faces = [[face.name, str(face.regular), str(face.bold)] for face in self.faces]
        data = {"content": asdict(self.content(event, lang)), "size": size.pixels, "style": asdict(self.style),
                "logo": logo_stamp, "fonts": faces, "design": DESIGN_VERSION}
        text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def path(self, event: Event, lang: str, size: CardSize) -> Path:
        """The PNG of the card, drawn now if it is not on disk yet (a second call is a file lookup)."""
        key = self.key(event, lang, size)
        folder = self.dir / event.id
        target = folder / f"{lang}-{size.value}-{key}.png"
        if target.is_file():
            return target
        content = self.content(event, lang)
        self._warn_missing(content)
        image = draw_card(content, size, self.style, self.faces)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as file:
                image.save(file, format="PNG", optimize=True)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)  # readers see the whole file or none
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in folder.glob(f"{lang}-{size.value}-*.png"):
            if old != target:
                old.unlink(missing_ok=True)  # an earlier version of the event
        return target

    def relative_url(self, event: Event, lang: str, size: CardSize) -> str:
        """`/events/<id>/card.png?lang=..&size=..&v=..`; `v` changes with the card, so caches never show an old one."""
        return path(f"/events/{event.id}/card.png", lang=lang, size=size.value, v=self.key(event, lang, size))

    def url(self, event: Event, lang: str, size: CardSize) -> str | None:
        """The card's absolute URL, or None while `[web] public_url` is unset (platforms fetch images by URL)."""
        return absolute(self.settings.web, self.relative_url(event, lang, size))

    def image_for(self, event: Event, post: RenderedPost) -> str | None:
        """The image a post should carry: the event's cover, else its card at the post platform's size (None
        while public_url is unset, as no platform could fetch it)."""
        if post.image:
            return post.image
        return self.url(event, post.lang, PLATFORM_SIZES[post.platform])

    def image_length(self, event: Event, post: RenderedPost) -> int | None:
        """The size in bytes of the image `post` carries when it is this app's own file: its generated card (drawn
        now if it is not yet) or an uploaded cover; None for an image elsewhere, or when the card cannot be
        written."""
        if post.image is None:
            return None
        size = PLATFORM_SIZES[post.platform]
        try:
            if post.image == self.url(event, post.lang, size):
                return self.path(event, post.lang, size).stat().st_size
            covers = absolute(self.settings.web, "/covers/") or "/covers/"
            if post.image.startswith((covers, "/covers/")):
                name = post.image.rsplit("/", 1)[-1]
                file = self.settings.web.covers_dir / name
                return file.stat().st_size if "/" not in name and file.is_file() else None
        except OSError as exc:
            log.warning("cards: cannot tell the size of %s (%s)", post.image, exc)
        return None

    def _warn_missing(self, content: CardContent) -> None:
        gaps = missing(self.faces, [content.organisation, content.series, content.title, content.when,
                                  content.venue, *content.speakers, content.status, content.site])
        if gaps and gaps not in _warned:
            _warned.add(gaps)
            log.warning("cards: no font has %r; they show as boxes. Install: %s", gaps, INSTALL_HINT)
