"""Links to the public web app: absolute ones only from `[web] public_url`, never from a request's Host header."""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from bot.config.settings import Settings, WebSettings

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
