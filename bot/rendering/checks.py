"""Editorial checks for `validate`: what would publish wrong or copied text, as warnings naming event and field."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import inflect
import regex

from bot.domain import Campaign, Event, Person, PostKind, RenderedPost, Text, pick
from bot.platforms import SPECS, visible_text
from bot.rendering.context import accusative_head, morph


@dataclass(frozen=True, kw_only=True)
class EventWarning:
    """Something an organiser should look at before it is published; `validate` shows it and goes on."""

    event_id: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.event_id}: {self.field}: {self.message}"


# --- live links -------------------------------------------------------------------------------------------


def missing_live_links(event: Event, campaign: Campaign) -> list[EventWarning]:
    """The campaign posts "we are live" but the event has no stream link for a platform it posts on."""
    steps = [step for step in campaign.steps if step.kind is PostKind.LIVE]
    if not steps or event.status.value == "cancelled" or "website" in event.live:
        return []
    platforms = sorted({p.value for step in steps for p in campaign.platforms_of(step)})
    missing = [p for p in platforms if p not in event.live]
    if not missing:
        return []
    fallback = "the event page" if event.url else "nothing"
    where = ", ".join(missing)
    if not event.live:
        message = f"no live links, but the campaign's live step posts on {where}: those posts would link to {fallback}"
    else:
        message = f"no stream link (nor a 'website' one) for {where}: the live post there would link to {fallback}"
    return [EventWarning(event_id=event.id, field="live", message=message)]


# --- texts copied from another event ----------------------------------------------------------------------

_SPACE = re.compile(r"\s+")


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _texts(value: Text | None) -> set[str]:
    if value is None:
        return set()
    values = [value] if isinstance(value, str) else list(value.values())
    return {_normal(v) for v in values if v.strip()}


def _person(person: Person | None) -> set[str]:
    if person is None:
        return set()
    return {f"{name}|{position}" for name in _texts(person.name) for position in _texts(person.position) or {""}}


def _copyable(event: Event) -> dict[str, set[str]]:
    """The fields that are new for every event, each as the set of its normalised texts."""
    return {
        "title": _texts(event.title),
        "topic": _texts(event.topic),
        "lead": _texts(event.lead),
        "description": _texts(event.description),
        "report": _texts(event.report),
        "hashtags": {" ".join(sorted(tag.casefold() for tag in event.hashtags))} if event.hashtags else set(),
        "moderator": _person(event.moderator),
    }


def copied_texts(events: Sequence[Event]) -> list[EventWarning]:
    """Texts identical to another event's: a file copied and not changed everywhere it should have been."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)  # (field, text) -> event ids
    for event in events:
        for field, values in _copyable(event).items():
            for value in values:
                if event.id not in seen[(field, value)]:
                    seen[(field, value)].append(event.id)
    warnings: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (field, _), ids in seen.items():
        for event_id in ids:
            warnings[(event_id, field)].update(other for other in ids if other != event_id)
    return [
        EventWarning(
            event_id=event_id,
            field=field,
            message=f"the same as in {', '.join(repr(o) for o in sorted(others))}: copied and not changed?",
        )
        for (event_id, field), others in sorted(warnings.items())
        if others
    ]


# --- a report before the event ----------------------------------------------------------------------------


def report_too_early(event: Event, now: datetime) -> list[EventWarning]:
    """A report on an event that has not happened yet: usually left over from the event the file was copied from."""
    if event.report is None or now >= event.end:
        return []
    ends = event.end.strftime("%Y-%m-%d %H:%M")
    return [
        EventWarning(
            event_id=event.id,
            field="report",
            message=f"a report, but the event ends only on {ends} ({event.timezone}); left from another event?",
        )
    ]


def deadline_steps(event: Event, campaign: Campaign) -> list[EventWarning]:
    """Campaign steps timed from an accreditation deadline the event does not give (they plan nothing for it), and
    a deadline after the start (accreditation that closes once the event is on is likely a typo)."""
    found = [EventWarning(event_id=event.id, field="accreditation.deadline", message=reason)
             for step in campaign.steps if (reason := step.unplanned(event))]
    if event.deadline is not None and event.deadline > event.start:
        found.append(EventWarning(event_id=event.id, field="accreditation.deadline",
                                  message="after the start: accreditation usually closes before the event"))
    return found


# --- mixed languages --------------------------------------------------------------------------------------

# The script a language is written in; languages not listed are not checked.
_SCRIPTS = {"ru": "Cyrillic", "uk": "Cyrillic", "en": "Latin"}
_LETTERS = {name: regex.compile(rf"\p{{Script={name}}}") for name in set(_SCRIPTS.values())}
# Links, hashtags and handles are Latin whatever the language of the post.
_NOT_WORDS = regex.compile(r"https?://\S+|[#@]\w+")


def _shares(text: str) -> dict[str, int]:
    words = _NOT_WORDS.sub(" ", text)
    return {name: len(pattern.findall(words)) for name, pattern in _LETTERS.items()}


def _wrong_script(text: str, lang: str) -> bool:
    """Whether most letters of `text` are in another script than `lang`'s."""
    own = _SCRIPTS.get(lang)
    if own is None:
        return False
    shares = _shares(text)
    other = sum(count for name, count in shares.items() if name != own)
    return other > shares[own]


def _event_texts(event: Event) -> dict[str, Text | None]:
    """Every text field a post may show, by the name the organiser writes in the event file."""
    texts: dict[str, Text | None] = {
        "title": event.title, "series": event.series, "organiser": event.organiser,
        # Not set, the format is said in the post's own language ("an event", "мероприятие").
        "format": event.format if "format" in event.model_fields_set else None,
        "topic": event.topic, "lead": event.lead, "description": event.description, "venue.name": event.venue.name,
        "venue.address": event.venue.address, "venue.street": event.venue.street,
        "venue.locality": event.venue.locality, "venue.region": event.venue.region, "report": event.report,
        "report_title": event.report_title,
        "accreditation.text": event.accreditation.text if event.accreditation else None,
    }
    for i, person in enumerate(event.speakers):
        texts[f"speakers[{i}].name"] = person.name
        texts[f"speakers[{i}].position"] = person.position
    if event.moderator:
        texts["moderator.name"] = event.moderator.name
        texts["moderator.position"] = event.moderator.position
    return texts


def _fields_in_other_language(event: Event, lang: str) -> list[str]:
    return [
        field for field, value in _event_texts(event).items()
        if value is not None and _wrong_script(pick(value, lang, event.lang), lang)
    ]


def mixed_language(post: RenderedPost, event: Event | None = None) -> list[EventWarning]:
    """A Russian post mostly in Latin letters, or an English one mostly in Cyrillic; names the event's fields
    whose text shown in the post's language is in the other script."""
    shown = post.text
    if SPECS[post.platform].markup.is_html:
        shown = visible_text(shown)
    if not _wrong_script(shown, post.lang):
        return []
    shares = _shares(shown)
    own = _SCRIPTS[post.lang]
    share = 100 * (sum(shares.values()) - shares[own]) // max(1, sum(shares.values()))
    fields = _fields_in_other_language(event, post.lang) if event else []
    cause = f"; in another language: {', '.join(fields)}" if fields else ""
    return [
        EventWarning(
            event_id=post.event_id,
            field=", ".join(fields) or post.kind.value,
            message=f"the {post.lang} {post.kind.value} for {post.target} is mostly not in {own} letters "
            f"({share}% of its letters){cause}",
        )
    ]


# --- what a minimal event would make ungrammatical --------------------------------------------------------

_LANG_NAMES = {"en": "English", "ru": "Russian"}
# Words an English noun phrase may start with instead of an article.
_DETERMINERS = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "our", "their", "its", "his", "her", "my", "your", "one",
    "two", "three", "four", "five", "several", "some", "many", "every", "each", "another",
})


# The fields that sit inside a template's sentence; names and places may rightly be written once.
_SENTENCE_FIELDS = frozenset({"title", "organiser", "format", "topic", "lead", "description", "report"})


@cache
def _english() -> inflect.engine:
    return inflect.engine()


def _missing_language(event: Event, langs: Iterable[str]) -> list[EventWarning]:
    warnings = []
    for lang in langs:
        for field, value in _event_texts(event).items():
            if isinstance(value, dict) and lang not in value:
                fallback = pick(value, lang, event.lang)
                if _wrong_script(fallback, lang) or lang not in _SCRIPTS:
                    name = _LANG_NAMES.get(lang, repr(lang))
                    warnings.append(EventWarning(
                        event_id=event.id, field=field,
                        message=f"no {lang!r} text: the {name} posts would show {_quote(fallback)}",
                    ))
            elif isinstance(value, str) and field in _SENTENCE_FIELDS and _wrong_script(value, lang):
                name = _LANG_NAMES.get(lang, repr(lang))
                warnings.append(EventWarning(
                    event_id=event.id, field=field,
                    message=f"written once, not in {name}: the {name} posts would show {_quote(value)}; "
                    f"give it per language ({{{event.lang}: ..., {lang}: ...}})",
                ))
    return warnings



def _quote(text: str) -> str:
    return f"“{text[:60]}{'…' if len(text) > 60 else ''}”"


def _english_format(event: Event) -> list[EventWarning]:
    text = pick(event.format, "en", event.lang) if "format" in event.model_fields_set else ""
    if not text or (isinstance(event.format, dict) and "en" not in event.format) or _wrong_script(text, "en"):
        return []
    first = text.split()[0]
    if first.casefold() in _DETERMINERS or first[:1].isupper():
        return []
    field = "format.en" if isinstance(event.format, dict) else "format"
    return [EventWarning(
        event_id=event.id, field=field,
        message=f"{_quote(text)} has no article: posts would read “will host {text} dedicated to …”; "
        f"write {_quote(str(_english().a(text)))}",
    )]


def _russian_cases(event: Event) -> list[EventWarning]:
    warnings = []
    fmt = event.format.get("ru") if isinstance(event.format, dict) else None
    if fmt and accusative_head(fmt) is None:
        warnings.append(EventWarning(
            event_id=event.id, field="format.ru",
            message=f"{_quote(fmt)} is not in the accusative the posts need (“проведёт экспертную дискуссию”)",
        ))
    topic = event.topic.get("ru") if isinstance(event.topic, dict) else None
    if topic and not _starts_in_case(topic, "datv"):
        warnings.append(EventWarning(
            event_id=event.id, field="topic.ru",
            message=f"{_quote(topic)} is not in the dative the posts need (“посвящённую договору …”)",
        ))
    organiser = event.organiser.get("ru") if isinstance(event.organiser, dict) else None
    if organiser and not _starts_in_case(organiser, "nomn"):
        warnings.append(EventWarning(
            event_id=event.id, field="organiser.ru",
            message=f"{_quote(organiser)} is not in the nominative the posts need (“Клуб «Валдай» проведёт …”)",
        ))
    return warnings


def _starts_in_case(phrase: str, case: str) -> bool:
    """Whether the first noun of a Russian phrase can be in `case` (a phrase with no noun is not judged)."""
    for word in phrase.replace("«", " ").replace("»", " ").split():
        parses = [p for p in morph().parse(word) if p.tag.POS == "NOUN"]
        if parses:
            return any(p.tag.case == case for p in parses)
    return True


def grammar(event: Event, langs: Iterable[str]) -> list[EventWarning]:
    """What would make the posts in `langs` (the targets' languages) ungrammatical or mixed, by field.

    A text missing in a language falls back to another one (a Russian post with an English topic); an English
    format without its article reads "will host expert discussion"; Russian texts must be in the case the
    templates put them in (format accusative, topic dative, organiser nominative). An event without a format
    reads "an event" / "мероприятие": grammatical, but worth saying.
    """
    langs = list(dict.fromkeys(langs))
    warnings = _missing_language(event, langs)
    if "format" not in event.model_fields_set:
        warnings.append(EventWarning(
            event_id=event.id, field="format",
            message="not set: posts say “will host an event dedicated to …” (“проведёт мероприятие, посвящённое …”); "
            "say what it is, e.g. {en: an expert discussion, ru: экспертную дискуссию}",
        ))
    if "en" in langs:
        warnings += _english_format(event)
    if "ru" in langs:
        warnings += _russian_cases(event)
    return warnings


def event_warnings(event: Event, *, campaign: Campaign, now: datetime, langs: Iterable[str]) -> list[EventWarning]:
    """Every check of one event on its own (`copied_texts` compares events, `mixed_language` a rendered post)."""
    return [*missing_live_links(event, campaign), *report_too_early(event, now), *deadline_steps(event, campaign),
            *grammar(event, langs)]
