"""An event in a few words of one language, for link cards, feeds, calendars, the chat bot and images: a synopsis
(its lead, else one sentence saying what, on what, when and where) and its date with the year."""

from __future__ import annotations

import re
from datetime import datetime

from babel import Locale
from babel.dates import format_date, format_skeleton
from sentencex import segment

from bot.domain import Event, EventStatus, PostKind, pick
from bot.rendering.context import EventView, dedicated, describe, morph, view

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
    """What the event is in a sentence or two: the lead, else one sentence made of its format, topic, date, time
    and place ("The Valdai Club will host an expert discussion dedicated to … in Moscow on November 27, 2024, at
    11:00 Moscow Time (GMT+3)."), which says so when it is cancelled or postponed; after the event (a summary post)
    the report's first sentence. Plain text, at most `limit` characters."""
    own = event.lang
    if kind is PostKind.SUMMARY and event.report:
        return clip(first_sentence(pick(event.report, lang, own), lang), limit)
    lead = _SPACE.sub(" ", pick(event.lead, lang, own)).strip()
    if lead and event.status in (EventStatus.SCHEDULED, EventStatus.DRAFT):
        return clip(lead, limit)
    text = sentence(event, lang) or lead or first_sentence(pick(event.description, lang, own), lang)
    return clip(text or pick(event.title, lang, own), limit)


# One sentence per status, as each language says it. {org} is the organiser (capitalised), {format} and {topic}
# as the posts write them, {dedicated} "dedicated to" agreeing with the format, {planned} "planned for" likewise.
_SENTENCES: dict[str, dict[EventStatus, str]] = {
    "en": {
        EventStatus.SCHEDULED: "{org} will host {format} dedicated to {topic}{place} on {dated}.",
        EventStatus.DRAFT: "{org} will host {format} dedicated to {topic}{place} on {dated}.",
        EventStatus.POSTPONED: "{org} has postponed {format} dedicated to {topic}{place}; the new date will be "
                               "announced.",
        EventStatus.CANCELLED: "{org} has cancelled {format} dedicated to {topic}{place}, planned for {date}.",
    },
    "ru": {
        EventStatus.SCHEDULED: "{org} проведёт {format}, {dedicated} {topic}, {dated}{place}.",
        EventStatus.DRAFT: "{org} проведёт {format}, {dedicated} {topic}, {dated}{place}.",
        EventStatus.POSTPONED: "{org} переносит {format}, {dedicated} {topic}{place}; новая дата будет объявлена "
                               "дополнительно.",
        EventStatus.CANCELLED: "{org} отменяет {format}, {dedicated} {topic}, {planned} на {date}{place}.",
    },
}


def sentence(event: Event, lang: str) -> str:
    """The event in one generated sentence of `lang`; '' for a language without its phrasing here."""
    phrasing = _SENTENCES.get(lang)
    if phrasing is None:
        return ""
    shown = view(event, lang)
    words = {
        "org": shown.organiser[:1].upper() + shown.organiser[1:],
        "format": shown.format,
        "topic": shown.topic,
        "dedicated": shown.dedicated,
        "planned": dedicated(shown.format, lang, "назначенный"),
        "date": format_skeleton("yMMMMd", event.start, locale=Locale.parse(lang)),
        "dated": dated(event.start, lang),
        "place": place_phrase(shown, lang),
    }
    return _SPACE.sub(" ", phrasing[event.status].format(**words))


_DATED = {"en": "{date}, at {at}", "ru": "{date} в {at}"}


def dated(moment: datetime, lang: str) -> str:
    """'November 27, 2024, at 11:00 Moscow Time (GMT+3)', '27 ноября 2024 г. в 11:00 по московскому времени': a
    moment with its year and zone, to follow "on" / "на" in a sentence."""
    when = describe(moment, lang)
    date = format_skeleton("yMMMMd", moment, locale=Locale.parse(lang))
    return _DATED.get(lang, _DATED["en"]).format(date=date, at=when.at)


def place_phrase(shown: EventView, lang: str) -> str:
    """' in Moscow', ' в Москве' (the city, when the address gives it), else ' at <the venue>' / ' (<the venue>)'."""
    if lang == "ru":
        city = _in_city(shown.locality) if shown.locality else ""
        return f" {city}" if city else f" ({shown.venue})"
    return f" in {shown.locality}" if shown.locality else f" at {shown.venue}"


def _in_city(name: str) -> str:
    """'в Москве', 'во Владивостоке', 'в Нижнем Новгороде': a Russian city name in the prepositional case with its
    preposition; '' when a word of it cannot be inflected (the caller then names the venue instead)."""
    words: list[str] = []
    for word in name.split():
        if not word[:1].isupper() and words:
            words.append(word)  # "на-Дону" and the like stay as they are
            continue
        parse = next((p for p in morph().parse(word) if p.tag.case == "nomn" and p.tag.POS in ("NOUN", "ADJF")),
                     None)
        if parse is not None and "Fixd" in parse.tag:
            words.append(word)  # indeclinable: "во Фрязино"
            continue
        inflected = parse.inflect({"loct"}) if parse is not None else None
        if inflected is None:
            return ""
        # pymorphy3 gives lower case: each hyphenated part keeps the case the name gives it ("Ростове-на-Дону").
        parts = str(inflected.word).split("-")
        given = word.split("-")
        if len(parts) != len(given):
            return ""
        words.append("-".join(part[:1].upper() + part[1:] if old[:1].isupper() else part
                              for part, old in zip(parts, given, strict=True)))
    first = words[0].lower() if words else ""
    preposition = "во" if len(first) > 1 and first[0] in "вф" and first[1] not in "аеёиоуыэюяь" else "в"
    return f"{preposition} {' '.join(words)}"


def long_date(moment: datetime, lang: str) -> str:
    """'Wednesday, November 27, 2024' / 'среда, 27 ноября 2024 г.': the weekday and the year, in the locale's order."""
    return str(format_date(moment, format="full", locale=Locale.parse(lang)))


def when_with_year(event: Event, lang: str) -> str:
    """The event's date and hours with the year and the zone as the posts name it, as one line in `lang` that
    starts with a capital: 'Wednesday, November 27, 2024, 11:00–13:00 Moscow Time (GMT+3)', 'Среда, 27 ноября
    2024 г., 11:00–13:00 по московскому времени'."""
    shown = view(event, lang)
    start, end = shown.start, shown.end
    if event.start.date() == event.end.date():
        line = f"{long_date(event.start, lang)}, {start.time}–{end.time} {start.tz}"
    else:
        line = f"{long_date(event.start, lang)}, {start.time} – {long_date(event.end, lang)}, {end.time} {end.tz}"
    return line[:1].upper() + line[1:]
