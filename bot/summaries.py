"""An event in a few words of one language, for link cards, feeds, calendars and images: a synopsis (its lead,
else its first sentence) and its date with the year."""

from __future__ import annotations

import re
from datetime import datetime

from babel import Locale
from babel.dates import format_date
from sentencex import segment

from bot.domain import Event, PostKind, pick
from bot.rendering.context import view

SYNOPSIS_LENGTH = 300
_SPACE = re.compile(r"\s+")


def first_sentence(text: str, lang: str) -> str:
    """The first sentence of the first paragraph of `text` (the whole paragraph if it has one sentence)."""
    paragraph = next((p for p in text.split("\n\n") if p.strip()), "")
    flat = _SPACE.sub(" ", paragraph).strip()
    if not flat:
        return ""
    return next((s.strip() for s in segment(lang, flat) if s.strip()), flat)


def clip(text: str, limit: int = SYNOPSIS_LENGTH) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–—") + "…"


def synopsis(event: Event, lang: str, kind: PostKind | None = None, limit: int = SYNOPSIS_LENGTH) -> str:
    """What the event is about in a sentence or two: the lead, else the description's first sentence, else the
    title; after the event (a summary post) the report's first sentence. Plain text, at most `limit` characters."""
    own = event.lang
    if kind is PostKind.SUMMARY and event.report:
        return clip(first_sentence(pick(event.report, lang, own), lang), limit)
    lead = _SPACE.sub(" ", pick(event.lead, lang, own)).strip()
    text = lead or first_sentence(pick(event.description, lang, own), lang) or pick(event.title, lang, own)
    return clip(text, limit)


def long_date(moment: datetime, lang: str) -> str:
    """'Wednesday, November 27, 2024' / 'среда, 27 ноября 2024 г.': the weekday and the year, in the locale's order."""
    return str(format_date(moment, format="full", locale=Locale.parse(lang)))


def when_with_year(event: Event, lang: str) -> str:
    """The event's date and hours with the year and the zone, as one line in `lang`."""
    start, end = view(event, lang).start, view(event, lang).end
    zone = f"{start.zone} ({start.gmt})" if lang != "ru" else f"({start.zone}, {start.gmt})"
    if event.start.date() == event.end.date():
        return f"{long_date(event.start, lang)}, {start.time}–{end.time} {zone}"
    return f"{long_date(event.start, lang)}, {start.time} – {long_date(event.end, lang)}, {end.time} {zone}"
