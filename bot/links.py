"""Links to the public web app: absolute ones only from `[web] public_url`, never from a request's Host header."""

from __future__ import annotations

import html
import logging
import re
from urllib.parse import unquote, urlencode, urlsplit

from bot.config.settings import Settings, WebSettings
from bot.domain import Event, RenderedPost

log = logging.getLogger(__name__)

# The domain part of every calendar UID when no public_url is set (RFC 5545 only asks that UIDs be unique).
DEFAULT_UID_DOMAIN = "announce-bot"


def public_base(web: WebSettings) -> str | None:
    """`https://events.example.org` (no trailing slash), or None when public_url is not set."""
    return web.public_url.rstrip("/") if web.public_url else None


def path(route: str, **query: str | None) -> str:
    """A site-relative link: `path("/events/x", lang="ru")` -> `/events/x?lang=ru` (None values left out)."""
    given = {key: value for key, value in query.items() if value is not None}
    return f"{route}?{urlencode(given)}" if given else route


def absolute(web: WebSettings, link: str) -> str | None:
    """The absolute form of a site-relative link, or None when public_url is not set."""
    base = public_base(web)
    return f"{base}{link}" if base else None


def href(web: WebSettings, link: str) -> str:
    """The absolute link when public_url is set, else the relative one (which a browser resolves itself)."""
    return absolute(web, link) or link


def event_path(event_id: str, lang: str | None = None) -> str:
    return path(f"/events/{event_id}", lang=lang)


def uid_domain(web: WebSettings) -> str:
    """The domain of calendar UIDs: public_url's host, else a fixed name; the same for the chat bot and the web."""
    base = public_base(web)
    return (urlsplit(base).hostname if base else None) or DEFAULT_UID_DOMAIN


def missing_public_url(settings: Settings) -> str | None:
    """What is lost while `[web] public_url` is unset (None when it is set): for a warning at start."""
    if settings.web.public_url:
        return None
    return ("[web] public_url is not set: public pages, feeds and calendars use relative links only, and link "
            "cards carry no og:url or og:image (set it to the address the public reaches this app at, "
            "e.g. ANNOUNCE_BOT_WEB__PUBLIC_URL=https://events.example.org)")


def warn_without_public_url(settings: Settings, logger: logging.Logger = log) -> bool:
    """Log the warning once at start when public_url is unset; True if it was logged."""
    message = missing_public_url(settings)
    if message:
        logger.warning(message)
    return message is not None


# -- clicks through the bot's own links -----------------------------------------------------------------------

_HREF = re.compile(r'href="([^"]*)"')


def event_links(event: Event) -> set[str]:
    """Every link an event's posts can carry: the only places its /go/ links lead (never an open redirect)."""
    people = [*event.speakers, *([event.moderator] if event.moderator else [])]
    found = {event.url, *event.live.values(), *event.recording.values(), event.venue.map_url,
             event.accreditation.form_url if event.accreditation else None, *(person.link for person in people)}
    return {link for link in found if link}


def go_link(base: str, event_id: str, target: str, step: str, url: str) -> str:
    """`https://events.example.org/go/<event>/<target>/<step>/https://vkvideo.ru/…`: a click is counted on the way
    (per post: its target and campaign step), and the link still says where it leads."""
    return f"{base}/go/{event_id}/{target}/{step}/{url}"


def same_link(given: str, url: str) -> bool:
    """Whether a /go/ link's tail (as a server or proxy passed it on: %-decoded, `//` perhaps collapsed) is `url`."""
    def plain(link: str) -> str:
        return re.sub(r"^(https?):/+", r"\1://", unquote(link))

    return plain(given) == plain(url)


def with_go_links(post: RenderedPost, event: Event, base: str, step: str) -> RenderedPost:
    """`post` (of campaign step `step`) with the links behind its words (HTML anchors) going through the /go/ page,
    whose address names them."""
    known = event_links(event)

    def swap(match: re.Match[str]) -> str:
        url = html.unescape(match[1])
        if url not in known:
            return match[0]
        return f'href="{html.escape(go_link(base, event.id, post.target, step, url), quote=True)}"'

    parts = tuple(part.model_copy(update={"text": _HREF.sub(swap, part.text)}) for part in post.parts)
    return post.model_copy(update={"parts": parts})
