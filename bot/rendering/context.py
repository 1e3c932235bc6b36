"""What templates see: an event resolved into one language, with dates localised by Babel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from babel import Locale
from babel.dates import format_datetime, format_skeleton, format_timedelta, get_timezone_name

from bot.domain import Event, Person, pick

# Names of the places a broadcast can be watched, as a reader of each language knows them.
_CHANNEL_LABELS: dict[str, dict[str, str]] = {
    "en": {"website": "Website", "telegram": "Telegram", "vk": "VK", "x": "X", "dzen": "Dzen",
           "youtube": "YouTube", "rutube": "Rutube"},
    "ru": {"website": "сайт", "telegram": "Telegram", "vk": "ВКонтакте", "x": "X", "dzen": "Дзен",
           "youtube": "YouTube", "rutube": "Rutube"},
}


@dataclass(frozen=True, kw_only=True)
class PersonView:
    name: str
    position: str
    link: str | None


@dataclass(frozen=True, kw_only=True)
class LinkView:
    key: str
    label: str
    url: str


@dataclass(frozen=True, kw_only=True)
class When:
    """A moment in the event's own zone, in words: '27 November', '11:00', 'Moscow Time', 'GMT+3'."""

    date: str
    time: str
    weekday: str
    year: str
    zone: str
    gmt: str
    iso: str
    full: str


@dataclass(frozen=True, kw_only=True)
class EventView:
    id: str
    status: str
    series: str
    title: str
    organiser: str
    format: str
    topic: str
    lead: str
    description: str
    venue: str
    address: str
    map_url: str | None
    speakers: tuple[PersonView, ...]
    moderator: PersonView | None
    languages: tuple[str, ...]
    accreditation: str
    accreditation_url: str | None
    phone: str | None
    live: tuple[LinkView, ...]
    url: str | None
    hashtags: tuple[str, ...]
    cover: str | None
    report: str
    report_title: str
    start: When
    end: When


def gmt_offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")


# How a language writes "27 November, 11:00 Moscow Time (GMT+3)".
_FULL = {
    "en": "{date}, {time} {zone} ({gmt})",
    "ru": "{date}, {time} ({zone}, {gmt})",
}


def describe(moment: datetime, lang: str) -> When:
    locale = Locale.parse(lang)
    parts = {
        # The locale's own order: "November 27" in English, "27 ноября" in Russian.
        "date": format_skeleton("MMMMd", moment, locale=locale),
        "time": format_datetime(moment, "HH:mm", locale=locale),
        # The generic name ("Moscow Time", "Москва") reads right all year, unlike "Standard Time".
        "zone": get_timezone_name(moment, zone_variant="generic", locale=locale),
        "gmt": gmt_offset(moment),
    }
    return When(
        **parts,
        weekday=format_datetime(moment, "EEEE", locale=locale),
        year=format_datetime(moment, "y", locale=locale),
        iso=moment.isoformat(),
        full=_FULL.get(lang, _FULL["en"]).format(**parts),
    )


def until(delta: timedelta, lang: str) -> str:
    """'in 1 day', 'через 1 час': how long before the start a reminder goes out."""
    return str(format_timedelta(delta, add_direction=True, locale=lang))


def _person(person: Person, lang: str, fallback: str) -> PersonView:
    return PersonView(
        name=pick(person.name, lang, fallback),
        position=pick(person.position, lang, fallback),
        link=person.link,
    )


def language_name(code: str, lang: str) -> str:
    return Locale.parse(code).get_display_name(lang) or code


def view(event: Event, lang: str) -> EventView:
    """The event as a reader of `lang` sees it; texts missing in `lang` fall back to the event's own."""
    own = event.lang
    labels = _CHANNEL_LABELS.get(lang, _CHANNEL_LABELS["en"])
    accreditation = event.accreditation
    return EventView(
        id=event.id,
        status=event.status.value,
        series=pick(event.series, lang, own),
        title=pick(event.title, lang, own),
        organiser=pick(event.organiser, lang, own),
        format=pick(event.format, lang, own),
        topic=pick(event.topic, lang, own),
        lead=pick(event.lead, lang, own),
        description=pick(event.description, lang, own),
        venue=pick(event.venue.name, lang, own),
        address=pick(event.venue.address, lang, own),
        map_url=event.venue.map_url,
        speakers=tuple(_person(p, lang, own) for p in event.speakers),
        moderator=_person(event.moderator, lang, own) if event.moderator else None,
        languages=tuple(language_name(code, lang) for code in event.languages),
        accreditation=pick(accreditation.text, lang, own) if accreditation else "",
        accreditation_url=accreditation.form_url if accreditation else None,
        phone=accreditation.phone if accreditation else None,
        live=tuple(
            LinkView(key=key, label=labels.get(key, key.capitalize()), url=url) for key, url in event.live.items()
        ),
        url=event.url,
        hashtags=event.hashtags,
        cover=event.cover.url if event.cover else None,
        report=pick(event.report, lang, own),
        report_title=pick(event.report_title, lang, own) or pick(event.title, lang, own),
        start=describe(event.start, lang),
        end=describe(event.end, lang),
    )
