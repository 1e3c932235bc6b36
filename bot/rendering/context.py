"""What templates see: an event resolved into one language, with dates, countdowns, lists and phone numbers
localised (Babel, phonenumbers) and Russian agreement made (pymorphy3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
import pymorphy3
from babel import Locale
from babel.core import get_global
from babel.dates import format_datetime, format_skeleton, format_timedelta, get_timezone_name
from babel.lists import format_list

from bot.domain import Event, Person, Venue, pick

# The places a broadcast can be watched, as a reader of each language knows them: the name in a list
# ("• Website") and the phrase in a sentence ("on the website", "во ВКонтакте": Russian needs the
# prepositional case and its own preposition for each).
_CHANNELS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {"website": ("Website", "the website"), "telegram": ("Telegram", "Telegram"), "vk": ("VK", "VK"),
           "x": ("X", "X"), "dzen": ("Dzen", "Dzen"), "youtube": ("YouTube", "YouTube"),
           "rutube": ("Rutube", "Rutube")},
    "ru": {"website": ("Сайт", "на сайте"), "telegram": ("Telegram", "в Telegram"), "vk": ("ВКонтакте", "во ВКонтакте"),
           "x": ("X", "в X"), "dzen": ("Дзен", "в Дзене"), "youtube": ("YouTube", "на YouTube"),
           "rutube": ("Rutube", "на Rutube")},
}
# English lists as the reference organiser writes them ("VK, Telegram and Dzen"): British, no serial comma.
_LIST_LOCALE = {"en": "en_GB"}
# What a format is when the event does not say, so that no post reads "will host event dedicated to".
_DEFAULT_FORMAT = {"en": "an event", "ru": "мероприятие"}


@dataclass(frozen=True, kw_only=True)
class PersonView:
    name: str
    position: str
    link: str | None


@dataclass(frozen=True, kw_only=True)
class LinkView:
    key: str
    label: str  # as a list item: "Website", "Сайт"
    on: str  # in a sentence: "the website", "на сайте"
    url: str


@dataclass(frozen=True, kw_only=True)
class When:
    """A moment in the event's own zone, in words: 'November 27', '11:00', 'Moscow Time', 'GMT+3'.

    `tz` is how the language names the zone after a time ("Moscow Time (GMT+3)", "по московскому времени"),
    `at` the time with it, `full` the date and time with it.
    """

    date: str
    time: str
    weekday: str
    year: str
    zone: str
    gmt: str
    tz: str
    at: str
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
    address: str  # one line: the file's `address`, else its parts joined ("Tsvetnoy boulevard 16/1, Moscow, Russia")
    locality: str  # the city, when the address is given in parts
    map_url: str | None
    speakers: tuple[PersonView, ...]
    moderator: PersonView | None
    languages: tuple[str, ...]
    accreditation: str
    accreditation_url: str | None
    phone: str | None
    accreditation_deadline: When | None  # when accreditation closes (None: not said, or closed already)
    live: tuple[LinkView, ...]
    recording: tuple[LinkView, ...]  # where to watch it afterwards
    url: str | None
    live_on: str  # "on the website, X, VK, Telegram and Dzen", "на сайте, в X, во ВКонтакте, в Telegram и в Дзене"
    hashtags: tuple[str, ...]
    dedicated: str  # "dedicated to" as it agrees with the format: "посвящённую" (дискуссию), "посвящённый" (семинар)
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


# How a language writes "November 27, 11:00 Moscow Time (GMT+3)".
_FULL = {
    "en": "{date}, {time} {tz}",
    "ru": "{date} в {time} {tz}",
}
# Russian names a zone by an adjective ("по московскому времени"), which CLDR does not give; the metazones
# a Russian reader knows by name. Anywhere else the local time comes with Moscow's, as an editor writes it:
# "в 8:30 по местному времени (1:30 мск)".
_RU_METAZONES = {"Moscow": "по московскому времени"}
MOSCOW = ZoneInfo("Europe/Moscow")
# Time-zone abbreviations that name one zone only; any other ("CST": China, or US Central, or Cuba) is shown as
# its offset from GMT.
_UNAMBIGUOUS = frozenset({"UTC", "GMT", "MSK", "CET", "CEST", "EET", "EEST", "WET", "WEST", "JST", "KST", "HKT"})


def _zone_phrase(moment: datetime, lang: str, zone: str, gmt: str) -> str:
    if lang != "ru":
        return f"{zone} ({gmt})"
    metazone = get_global("meta_zones").get(getattr(moment.tzinfo, "key", ""))
    if metazone in _RU_METAZONES:
        return _RU_METAZONES[metazone]
    moscow = moment.astimezone(MOSCOW)
    if moscow.utcoffset() == moment.utcoffset():
        return _RU_METAZONES["Moscow"]  # the same clock as Moscow's (Minsk, Simferopol): no sum to do
    at = format_datetime(moscow, "H:mm", locale="ru")
    if moscow.date() != moment.date():
        at = f"{format_skeleton('MMMMd', moscow, locale='ru')} в {at}"  # "(2 декабря в 19:30 мск)"
    return f"по местному времени ({at} мск)"


def zone_label(moment: datetime) -> str:
    """The zone after a time in tables and logs: its abbreviation when it names one zone only (MSK, CET), else
    its offset (GMT+8, never the "CST" that also reads as US Central Time)."""
    abbreviation = moment.tzname() or ""
    return abbreviation if abbreviation in _UNAMBIGUOUS else gmt_offset(moment)


# Hours as each language writes them: "08:30" in English, "8:30" in Russian ("в 8:30 по местному времени").
_HOURS = {"ru": "H:mm"}


def describe(moment: datetime, lang: str) -> When:
    locale = Locale.parse(lang)
    # The generic name ("Moscow Time", "Москва") reads right all year, unlike "Standard Time".
    zone = get_timezone_name(moment, zone_variant="generic", locale=locale)
    gmt = gmt_offset(moment)
    tz = _zone_phrase(moment, lang, zone, gmt)
    # The locale's own order: "November 27" in English, "27 ноября" in Russian.
    date = format_skeleton("MMMMd", moment, locale=locale)
    time = format_datetime(moment, _HOURS.get(lang, "HH:mm"), locale=locale)
    return When(
        date=date,
        time=time,
        weekday=format_datetime(moment, "EEEE", locale=locale),
        year=format_datetime(moment, "y", locale=locale),
        zone=zone,
        gmt=gmt,
        tz=tz,
        at=f"{time} {tz}",
        iso=moment.isoformat(),
        full=_FULL.get(lang, _FULL["en"]).format(date=date, time=time, tz=tz),
    )


class CountdownKind(StrEnum):
    MINUTES = "minutes"  # in 15 minutes
    HOURS = "hours"  # in an hour, in an hour and a half, in 3 hours
    TODAY = "today"
    TOMORROW = "tomorrow"
    DAYS = "days"  # the day after tomorrow, in 3 days (calendar days)
    STARTED = "started"  # 10 minutes ago: a post its step lets go out after the start says so


@dataclass(frozen=True, kw_only=True)
class Countdown:
    """How long until the start, as people say it: 'in 15 minutes', 'in an hour', 'tomorrow', 'через 3 дня'."""

    kind: CountdownKind
    phrase: str


# CLDR says "in 1 hour", "через 1 час"; people say "in an hour", "через час", and count half hours near the start.
_ONE = {
    "en": {"minute": "in a minute", "hour": "in an hour", "hour-1.5": "in an hour and a half",
           "hour-2.5": "in two and a half hours"},
    "ru": {"minute": "через минуту", "hour": "через час", "hour-1.5": "через полтора часа",
           "hour-2.5": "через два с половиной часа"},
}
_DAY_WORDS = {
    "en": {0: "today", 1: "tomorrow", 2: "the day after tomorrow"},
    "ru": {0: "сегодня", 1: "завтра", 2: "послезавтра"},
}
# Whole hours up to this many are said as hours ("in 6 hours"); beyond, the day is the clearer word.
_MAX_HOURS = 12
# Under this, the time left is said to the nearest half hour ("in an hour and a half"), whatever the minutes:
# a reminder sent off its step's time (late, by hand) is rarely a whole number of hours before the start.
_NEAR = timedelta(hours=3)


def _relative(amount: float, unit: str, lang: str) -> str:
    """'in 3 hours', 'через 21 час', 'через 5 минут', '10 minutes ago': CLDR's relative-time forms with their
    plurals (Babel); a negative amount is in the past.

    Babel picks the largest unit reaching `threshold`; a threshold of `amount` makes it keep the unit chosen
    here (21 days stay "21 days", not "3 weeks") without rounding anything.
    """
    known = _ONE.get(lang, {})
    if amount == 1 and unit in known:
        return known[unit]
    if amount in (1.5, 2.5) and f"{unit}-{amount}" in known:
        return known[f"{unit}-{amount}"]
    seconds = {"minute": 60, "hour": 3600, "day": 86400}[unit]
    return str(
        format_timedelta(
            timedelta(seconds=round(amount) * seconds), threshold=abs(round(amount)) or 1, add_direction=True,
            format="long", locale=lang
        )
    )


def countdown(delta: timedelta, lang: str, start: datetime | None = None) -> Countdown:
    """What a post sent `delta` before `start` says of the time left, for any time left (negative: started).

    Under an hour in minutes; under three hours to the nearest half hour; whole hours (up to 12) in hours;
    otherwise by the calendar of the event's zone (`start`'s): today, tomorrow, the day after tomorrow, in N
    days. Without `start` there is no calendar: the nearest hour or day.
    """
    minutes = round(delta.total_seconds() / 60)
    if minutes < 0:
        ago = -minutes
        if ago < 60:
            return Countdown(kind=CountdownKind.STARTED, phrase=_relative(-ago, "minute", lang))
        return Countdown(kind=CountdownKind.STARTED, phrase=_relative(-round(ago / 60), "hour", lang))
    minutes = max(1, minutes)
    if minutes < 60:
        return Countdown(kind=CountdownKind.MINUTES, phrase=_relative(minutes, "minute", lang))
    if start is None:  # no calendar to say "tomorrow" by: the nearest whole hour or day
        if minutes < 24 * 60:
            return Countdown(kind=CountdownKind.HOURS, phrase=_relative(round(minutes / 60), "hour", lang))
        return Countdown(kind=CountdownKind.DAYS, phrase=_relative(round(minutes / (24 * 60)), "day", lang))
    if timedelta(minutes=minutes) < _NEAR:
        halves = round(minutes / 30) / 2
        if halves % 1 and f"hour-{halves}" not in _ONE.get(lang, {}):
            halves = round(minutes / 60)  # a language without its half-hour words: the nearest hour
        return Countdown(kind=CountdownKind.HOURS, phrase=_relative(halves, "hour", lang))
    hours, rest = divmod(minutes, 60)
    if rest == 0 and hours <= _MAX_HOURS:
        return Countdown(kind=CountdownKind.HOURS, phrase=_relative(hours, "hour", lang))
    days = (start.date() - (start - delta).date()).days
    words = _DAY_WORDS.get(lang, _DAY_WORDS["en"])
    kind = {0: CountdownKind.TODAY, 1: CountdownKind.TOMORROW}.get(days, CountdownKind.DAYS)
    return Countdown(kind=kind, phrase=words[days] if days in words else _relative(days, "day", lang))


def until(delta: timedelta, lang: str, start: datetime | None = None) -> str:
    """'in 15 minutes', 'in an hour', 'tomorrow', 'через 3 дня': the time left before `start` (see countdown)."""
    return countdown(delta, lang, start).phrase


@lru_cache(maxsize=1024)  # pure, and asked for at every render of the event
def phone_number(raw: str) -> str:
    """'+7 926 930-77-63' for '+79269307763': the international format (phonenumbers); as written if unknown."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


@cache
def morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


def accusative_head(phrase: str) -> pymorphy3.analyzer.Parse | None:
    """The noun a Russian phrase in the accusative is about ("экспертную дискуссию" -> дискуссию), if any."""
    for word in reversed(phrase.replace("«", " ").replace("»", " ").split()):
        for parse in morph().parse(word):
            if parse.tag.POS == "NOUN" and parse.tag.case == "accs":
                return parse
    return None


@lru_cache(maxsize=1024)  # pure, and asked for at every render of the event
def dedicated(format_text: str, lang: str, word: str = "посвящённый") -> str:
    """'dedicated' agreeing with the format: 'посвящённую' (дискуссию), 'посвящённый' (семинар), 'посвящённые';
    `word` another Russian participle made to agree the same way ('назначенную')."""
    if lang != "ru":
        return "dedicated"
    feminine = str(morph().parse(word)[0].inflect({"accs", "femn"}).word)
    head = accusative_head(format_text)
    if head is None:
        return feminine  # most formats are feminine (дискуссию, конференцию, встречу); `validate` warns
    wanted = {"accs", "plur", "inan"} if head.tag.number == "plur" else {"accs", head.tag.gender or "femn"}
    if head.tag.number != "plur" and head.tag.gender == "masc":
        wanted.add(head.tag.animacy or "inan")
    form = morph().parse(word)[0].inflect(wanted)
    return str(form.word) if form else feminine


def live_phrase(links: tuple[LinkView, ...], lang: str) -> str:
    """'on the website, X, VK, Telegram and Dzen' / 'на сайте, в X, во ВКонтакте, в Telegram и в Дзене'."""
    if not links:
        return ""
    listed = format_list([link.on for link in links], locale=_LIST_LOCALE.get(lang, lang))
    return f"on {listed}" if lang == "en" else listed


def _person(person: Person, lang: str, fallback: str) -> PersonView:
    return PersonView(
        name=pick(person.name, lang, fallback),
        position=pick(person.position, lang, fallback),
        link=person.link,
    )


def language_name(code: str, lang: str) -> str:
    return Locale.parse(code).get_display_name(lang) or code


def country_name(code: str | None, lang: str) -> str:
    """'Russia', 'Россия' for RU: the country as `lang` names it (CLDR)."""
    if not code:
        return ""
    return str(Locale.parse(lang).territories.get(code, code))


def address_line(venue: Venue, lang: str, fallback: str) -> str:
    """The venue's address on one line: as written in `address`, else street, locality, region and country."""
    if venue.address is not None:
        return pick(venue.address, lang, fallback)
    parts = [pick(venue.street, lang, fallback), pick(venue.locality, lang, fallback),
             pick(venue.region, lang, fallback), country_name(venue.country, lang)]
    return ", ".join(part for part in parts if part)


def _channel(key: str, url: str, lang: str) -> LinkView:
    known = _CHANNELS.get(lang, _CHANNELS["en"])
    label, on = known.get(key, (key.capitalize(), key.capitalize() if lang != "ru" else f"в {key.capitalize()}"))
    return LinkView(key=key, label=label, on=on, url=url)


def format_of(event: Event, lang: str) -> str:
    """The event's format in `lang`, or the language's word for an event when the file does not say."""
    if "format" not in event.model_fields_set:
        return _DEFAULT_FORMAT.get(lang, pick(event.format, lang, event.lang))
    return pick(event.format, lang, event.lang)


def view(event: Event, lang: str, now: datetime | None = None) -> EventView:
    """The event as a reader of `lang` sees it; texts missing in `lang` fall back to the event's own. With `now`
    past the accreditation deadline, the accreditation is left out (nobody can accredit any more)."""
    own = event.lang
    accreditation = event.accreditation if event.accreditation_open(now) else None
    deadline = accreditation.deadline if accreditation else None
    live = tuple(_channel(key, url, lang) for key, url in event.live.items())
    form = format_of(event, lang)
    return EventView(
        id=event.id,
        status=event.status.value,
        series=pick(event.series, lang, own),
        title=pick(event.title, lang, own),
        organiser=pick(event.organiser, lang, own),
        format=form,
        topic=pick(event.topic, lang, own),
        lead=pick(event.lead, lang, own),
        description=pick(event.description, lang, own),
        venue=pick(event.venue.name, lang, own),
        address=address_line(event.venue, lang, own),
        locality=pick(event.venue.locality, lang, own),
        map_url=event.venue.map_url,
        speakers=tuple(_person(p, lang, own) for p in event.speakers),
        moderator=_person(event.moderator, lang, own) if event.moderator else None,
        languages=tuple(language_name(code, lang) for code in event.languages),
        accreditation=pick(accreditation.text, lang, own) if accreditation else "",
        accreditation_url=accreditation.form_url if accreditation else None,
        phone=phone_number(accreditation.phone) if accreditation and accreditation.phone else None,
        accreditation_deadline=describe(deadline.astimezone(event.zone), lang) if deadline else None,
        live=live,
        recording=tuple(_channel(key, url, lang) for key, url in event.recording.items()),
        live_on=live_phrase(live, lang),
        url=event.url,
        hashtags=event.hashtags,
        dedicated=dedicated(form, lang),
        cover=event.cover.url if event.cover else None,
        report=pick(event.report, lang, own),
        report_title=pick(event.report_title, lang, own) or pick(event.title, lang, own),
        start=describe(event.start, lang),
        end=describe(event.end, lang),
    )
