"""Stream links given at go-live: one parser for `KEY=URL` and bare URLs, and the keys an event accepts."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from bot.domain import Platform

WEBSITE = "website"  # the organisation's own stream (its page)
# Places to watch that posts name although nothing is published there (bot/rendering/context.py's channels).
WATCH_ONLY = ("youtube", "rutube")
# Which platform a bare stream link belongs to, by its host.
_HOSTS = {"t.me": "telegram", "telegram.me": "telegram", "vk.com": "vk", "vkvideo.ru": "vk", "vk.ru": "vk",
          "x.com": "x", "twitter.com": "x", "dzen.ru": "dzen", "zen.yandex.ru": "dzen", "max.ru": "max",
          "youtube.com": "youtube", "youtu.be": "youtube", "rutube.ru": "rutube"}
# `vk=https://…`: a key is a short name before the first "=", never part of a URL (whose query has "=" too).
_KEYED = re.compile(r"^(?P<key>[A-Za-z0-9_-]{1,32})=(?P<url>.+)$", re.DOTALL)


def platform_of_link(url: str) -> str:
    """`telegram`, `vk`, `x`, `dzen`... for a link on one of them, else `website` (the organisation's own stream)."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.").removeprefix("m.")
    return next((name for suffix, name in _HOSTS.items() if host == suffix or host.endswith("." + suffix)), WEBSITE)


def parse_links(given: Iterable[str]) -> dict[str, str]:
    """`["vk=https://vkvideo.ru/…", "https://t.me/…"]` -> `{"vk": …, "telegram": …}`: a bare URL is keyed by the
    platform it is on (else `website`). Nothing is checked here: `link_problems` does that."""
    links: dict[str, str] = {}
    for item in given:
        item = item.strip()
        keyed = _KEYED.match(item)
        if keyed is not None:
            links[keyed["key"].lower()] = keyed["url"].strip()
        elif item:
            links[platform_of_link(item)] = item
    return links


def accepted_keys(existing: Iterable[str] = ()) -> tuple[str, ...]:
    """What a stream link may be keyed by: the website, a platform, a place to watch, or a key the event has."""
    return tuple(dict.fromkeys([WEBSITE, *(p.value for p in Platform), *WATCH_ONLY, *existing]))


def link_problems(links: Mapping[str, str], existing: Iterable[str] = ()) -> list[str]:
    """Why these links cannot be set (none: they can): an unknown key, with the valid ones and a "did you mean",
    or a URL that is not http(s). A misspelt key was once published as "…on VK and Vkk"."""
    valid = accepted_keys(existing)
    problems = []
    for key, url in links.items():
        if key not in valid:
            near = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            problems.append(f"{key!r} is not a place to watch (use {', '.join(valid)}){hint}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"{key}: {url[:200]!r} is not an http(s) URL")
    return problems
