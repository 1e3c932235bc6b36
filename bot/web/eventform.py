"""The event editor's form: an event as named fields (each text once per language, side by side) and back, checked
by the Event model as the YAML loader checks a file, with each error placed next to the field it is about."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bot.config.export import event_data, repeated
from bot.config.loader import readable, where
from bot.domain import Event, EventStatus
from bot.streams import platform_of_link

# The Event's texts of its own (Text fields), and those inside its parts.
TEXTS = ("series", "title", "organiser", "format", "topic", "lead", "description", "report_title", "report")
PERSON_TEXTS = ("name", "position")
VENUE_TEXTS = ("name", "address", "street", "locality", "region")
VENUE_PLAIN = ("postal_code", "country", "map_url")
LONG_TEXTS = frozenset({"description", "report", "lead"})  # shown as text areas
DEFAULT_LANGS = ("en", "ru")
SUMMARY = "form"  # the slot of errors that belong to no one field: shown at the top
_SPLIT = re.compile(r"[\s,]+")
_ROW = re.compile(r"^(speakers|live)\[(\d+)\]")


def editor_langs(target_langs: Iterable[str], data: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The languages the form shows a column for: the event's own, then those of the targets, then any other its
    texts are written in (en and ru when nothing says otherwise)."""
    found = [data["lang"]] if data and isinstance(data.get("lang"), str) else []
    found += [*target_langs, *DEFAULT_LANGS]
    for value in _texts_of(data or {}):
        if isinstance(value, dict):
            found += list(value)
    return tuple(dict.fromkeys(found))


def _texts_of(data: Mapping[str, Any]) -> Iterable[Any]:
    for name in TEXTS:
        yield data.get(name)
    venue = data.get("venue") or {}
    yield from (venue.get(name) for name in VENUE_TEXTS)
    for person in [*(data.get("speakers") or []), data.get("moderator") or {}]:
        yield from (person.get(name) for name in PERSON_TEXTS)


def speaker(index: int) -> str:
    return f"speakers[{index}]"


def live_row(index: int) -> str:
    return f"live[{index}]"


def anchor(slot: str) -> str:
    """The HTML id of a field's block: `speakers[1].name` -> `f-speakers-1-name`."""
    return "f-" + re.sub(r"[^a-z0-9_]+", "-", slot.lower()).strip("-")


@dataclass(frozen=True, kw_only=True)
class EventForm:
    """The form as shown: every field's text by name, how many speaker and live-link rows, whether there is a
    moderator; and what it was started from (the stored version edited, the event duplicated)."""

    langs: tuple[str, ...]
    values: Mapping[str, str]
    speakers: int = 0
    live: int = 0
    moderator: bool = False
    new: bool = False
    version: str | None = None  # the stored version this edit started from (EventOperations.save's `expected`)
    source: str | None = None  # the event this new one was duplicated from
    source_data: Mapping[str, Any] | None = None  # that event's data in this form's shape, to tell repeats

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    # -- rows: added, removed and moved by the form's own buttons (no script needed) ------------------

    def apply(self, op: str) -> EventForm:
        """The form after one of its row buttons: add-speaker, remove-speaker-2, up-speaker-2, down-speaker-2,
        add-moderator, remove-moderator, add-live, remove-live-1. Unknown operations change nothing."""
        verb, _, rest = op.partition("-")
        kind, _, number = rest.partition("-")
        index = int(number) if number.isdigit() else -1
        if kind == "moderator":
            if verb == "add":
                return replace(self, moderator=True)
            if verb == "remove":
                return replace(self, moderator=False, values=_without(self.values, "moderator."))
            return self
        if kind not in ("speaker", "live"):
            return self
        prefix, count = ("speakers", self.speakers) if kind == "speaker" else ("live", self.live)
        rows = [_row(self.values, f"{prefix}[{i}]") for i in range(count)]
        if verb == "add":
            rows.append({})
        elif verb == "remove" and 0 <= index < count:
            del rows[index]
        elif verb in ("up", "down") and 0 <= index < count:
            other = index - 1 if verb == "up" else index + 1
            if 0 <= other < count:
                rows[index], rows[other] = rows[other], rows[index]
        else:
            return self
        values = _without(self.values, f"{prefix}[")
        for i, row in enumerate(rows):
            values.update({f"{prefix}[{i}]{key}": value for key, value in row.items()})
        if kind == "speaker":
            return replace(self, values=values, speakers=len(rows))
        return replace(self, values=values, live=len(rows))

    # -- what the form says, as the Event model's data ---------------------------------------------------

    def data(self) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The event data this form gives, and the errors found before the model's own checks (dates that are
        not dates, a live channel given twice), by slot."""
        errors: dict[str, list[str]] = {}
        data: dict[str, Any] = {}
        for name in ("id", "lang", "status", "timezone", "url"):
            if value := self.get(name).strip():
                data[name] = value
        if self.get("past"):
            data["past"] = True
        for name in TEXTS:
            if (text := self.text(name)) is not None:
                data[name] = text
        for name in ("start", "end", "previous_start"):
            if value := self.get(name).strip():
                try:
                    data[name] = datetime.fromisoformat(value).isoformat(sep=" ", timespec="minutes")
                except ValueError:
                    errors.setdefault(name, []).append(f"not a date and time: {value!r} (write 2025-03-10 11:00)")
        venue = _drop_empty({**{name: self.text(f"venue.{name}") for name in VENUE_TEXTS},
                             **{name: self.get(f"venue.{name}").strip() or None for name in VENUE_PLAIN}})
        if isinstance(venue.get("country"), str):
            venue["country"] = venue["country"].upper()
        if venue:
            data["venue"] = venue
        speakers = [person for i in range(self.speakers) if (person := self.person(speaker(i)))]
        if speakers:
            data["speakers"] = speakers
        if self.moderator and (moderator := self.person("moderator")):
            data["moderator"] = moderator
        if languages := [code.lower() for code in _SPLIT.split(self.get("languages")) if code]:
            data["languages"] = languages
        if hashtags := [tag.lstrip("#") for tag in _SPLIT.split(self.get("hashtags")) if tag.lstrip("#")]:
            data["hashtags"] = hashtags
        deadline = None
        if value := self.get("accreditation.deadline").strip():
            try:
                deadline = datetime.fromisoformat(value).isoformat(sep=" ", timespec="minutes")
            except ValueError:
                errors.setdefault("accreditation.deadline", []).append(
                    f"not a date and time: {value!r} (write 2025-03-05 18:00)")
        accreditation = _drop_empty({"text": self.text("accreditation.text"),
                                     "form_url": self.get("accreditation.form_url").strip() or None,
                                     "phone": self.get("accreditation.phone").strip() or None, "deadline": deadline})
        if accreditation:
            data["accreditation"] = accreditation
        recording: dict[str, str] = {}
        for url in _SPLIT.split(self.get("recording").strip()):
            if url:
                place = platform_of_link(url)
                if place in recording:
                    errors.setdefault("recording", []).append(f"two recordings on {place}: give one link per place")
                recording[place] = url
        if recording:
            data["recording"] = recording
        live: dict[str, str] = {}
        for i in range(self.live):
            channel, url = self.get(f"{live_row(i)}.channel").strip(), self.get(f"{live_row(i)}.url").strip()
            if not channel and not url:
                continue
            if channel in live:
                errors.setdefault(live_row(i), []).append(f"the channel {channel!r} is given twice")
            live[channel] = url
        if live:
            data["live"] = live
        if not self.get("cover.remove"):
            cover = _drop_empty({"url": self.get("cover.url").strip() or None, "alt": self.text("cover.alt")})
            if cover:
                data["cover"] = cover
        return data, errors

    def text(self, name: str) -> str | dict[str, str] | None:
        """A text from its language columns: None when all are empty, one string when only the event's own
        language is written (it then stands for every language), else one entry per language written."""
        given = {lang: value for lang in self.langs if (value := self.get(f"{name}.{lang}").strip())}
        if not given:
            return None
        own = self.get("lang").strip() or self.langs[0]
        return given[own] if list(given) == [own] else given

    def person(self, prefix: str) -> dict[str, Any] | None:
        return _drop_empty({"name": self.text(f"{prefix}.name"), "position": self.text(f"{prefix}.position"),
                            "link": self.get(f"{prefix}.link").strip() or None}) or None

    def repeats(self) -> list[str]:
        """The fields that still say what the duplicated event said (none when this is no duplicate)."""
        if self.source_data is None:
            return []
        return repeated(self.data()[0], dict(self.source_data))

    # -- where errors go ------------------------------------------------------------------------------

    def slots(self) -> set[str]:
        """Every place of the form an error can be shown next to."""
        found = {SUMMARY, "id", "lang", "status", "past", "start", "end", "previous_start", "timezone", "url",
                 "languages", "hashtags", "venue", *(f"venue.{name}" for name in (*VENUE_TEXTS, *VENUE_PLAIN)),
                 "speakers", "moderator", "moderator.link", "accreditation", "accreditation.form_url",
                 "accreditation.phone", "accreditation.deadline", "live", "recording", "cover", "cover.url",
                 "cover.file", *TEXTS, "moderator.name", "moderator.position",
                 "accreditation.text", "cover.alt"}
        for i in range(self.speakers):
            found |= {speaker(i), f"{speaker(i)}.name", f"{speaker(i)}.position", f"{speaker(i)}.link"}
        found |= {live_row(i) for i in range(self.live)}
        return found

    def place(self, loc: tuple[int | str, ...], message: str) -> tuple[str, str]:
        """The slot an error at `loc` (of the event data this form gave) is shown in, and its words there."""
        loc = self._rows(loc)
        slots = self.slots()
        for size in range(len(loc), 0, -1):
            slot = where(loc[:size])
            if slot in slots:
                rest = where(loc[size:]) if size < len(loc) else ""
                return slot, f"{rest}: {message}" if rest else message
        first = message.split(" ", 1)[0]
        return (first, message) if not loc and first in slots else (SUMMARY, message)

    def _rows(self, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
        """Speakers left out (blank rows) shift the model's indices; live links are keyed by channel, the form
        by row: the form's own row for each."""
        if len(loc) > 1 and loc[0] == "speakers" and isinstance(loc[1], int):
            kept = [i for i in range(self.speakers) if self.person(speaker(i))]
            if loc[1] < len(kept):
                return ("speakers", kept[loc[1]], *loc[2:])
        if len(loc) > 1 and loc[0] == "live":
            for i in range(self.live):
                if self.get(f"{live_row(i)}.channel").strip() == loc[1]:
                    return ("live", i)
        return loc


@dataclass(frozen=True, kw_only=True)
class Checked:
    """A form checked as the loader checks a file: the event when it is valid, else the errors by slot."""

    form: EventForm
    event: Event | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def check(form: EventForm, *, extra: Mapping[str, list[str]] | None = None) -> Checked:
    """Validate the form; `extra` adds errors found elsewhere (a cover upload) so that nothing is saved half."""
    data, errors = form.data()
    for slot, messages in (extra or {}).items():
        errors.setdefault(slot, []).extend(messages)
    told = set(errors)  # a date that is no date is left out of the data: not also "Field required"
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        for loc, message in readable(exc):
            slot, words = form.place(loc, message)
            if slot not in told:
                errors.setdefault(slot, []).append(words)
        return Checked(form=form, errors=errors)
    if errors:
        return Checked(form=form, errors=errors)
    return Checked(form=form, event=event)


def from_request(fields: Mapping[str, str], target_langs: Iterable[str]) -> EventForm:
    """The form as the browser sent it (text areas' CRLF made LF); rows counted from the fields present."""
    values = {name: value.replace("\r\n", "\n") for name, value in fields.items()}
    counts = {"speakers": 0, "live": 0}
    for name in values:
        if match := _ROW.match(name):
            counts[match[1]] = max(counts[match[1]], int(match[2]) + 1)
    langs = tuple(dict.fromkeys(code for code in _SPLIT.split(values.pop("langs", "")) if code)) or \
        editor_langs(target_langs)
    source = values.pop("source", "") or None
    return EventForm(langs=langs, values=values, speakers=counts["speakers"], live=counts["live"],
                     moderator=any(name.startswith("moderator.") for name in values),
                     new=values.pop("new", "") == "1", version=values.pop("version", "") or None, source=source)


def form_of(data: Mapping[str, Any], target_langs: Iterable[str], *, new: bool = False,
            version: str | None = None) -> EventForm:
    """The form showing event data as `event_data` gives it (or `copied_fields`: a new event's start)."""
    # An event file that leaves out `lang` is in the model's default language (event_data leaves defaults out).
    own = str(data.get("lang") or Event.model_fields["lang"].default)
    langs = editor_langs(target_langs, {**data, "lang": own})
    values: dict[str, str] = {}

    def text(name: str, value: Any) -> None:
        if isinstance(value, dict):
            values.update({f"{name}.{lang}": str(words) for lang, words in value.items()})
        elif value:
            values[f"{name}.{own}"] = str(value)

    def person(prefix: str, value: Mapping[str, Any]) -> None:
        for name in PERSON_TEXTS:
            text(f"{prefix}.{name}", value.get(name))
        values[f"{prefix}.link"] = str(value.get("link") or "")

    values["lang"] = own
    values["status"] = str(data.get("status") or EventStatus.SCHEDULED.value)
    if data.get("past"):
        values["past"] = "yes"
    for name in ("id", "timezone", "url"):
        values[name] = str(data.get(name) or "")
    for name in ("start", "end", "previous_start"):
        values[name] = str(data.get(name) or "").replace(" ", "T")
    for name in TEXTS:
        text(name, data.get(name))
    venue = data.get("venue") or {}
    for name in VENUE_TEXTS:
        text(f"venue.{name}", venue.get(name))
    for name in VENUE_PLAIN:
        values[f"venue.{name}"] = str(venue.get(name) or "")
    speakers = list(data.get("speakers") or [])
    for i, one in enumerate(speakers):
        person(speaker(i), one)
    moderator = data.get("moderator")
    if moderator:
        person("moderator", moderator)
    values["languages"] = " ".join(data.get("languages") or [])
    values["hashtags"] = " ".join(f"#{tag}" for tag in data.get("hashtags") or [])
    accreditation = data.get("accreditation") or {}
    text("accreditation.text", accreditation.get("text"))
    values["accreditation.form_url"] = str(accreditation.get("form_url") or "")
    values["accreditation.phone"] = str(accreditation.get("phone") or "")
    values["accreditation.deadline"] = str(accreditation.get("deadline") or "").replace(" ", "T")
    values["recording"] = " ".join((data.get("recording") or {}).values())
    live = dict(data.get("live") or {})
    for i, (channel, url) in enumerate(live.items()):
        values[f"{live_row(i)}.channel"], values[f"{live_row(i)}.url"] = channel, url
    cover = data.get("cover") or {}
    values["cover.url"] = str(cover.get("url") or "")
    text("cover.alt", cover.get("alt"))
    return EventForm(langs=langs, values=values, speakers=len(speakers), live=len(live), moderator=bool(moderator),
                     new=new, version=version)


def duplicate_of(source: Event, copied: Mapping[str, Any], target_langs: Iterable[str]) -> EventForm:
    """A new event's form from `copied` (export.copied_fields of `source`), knowing what `source` said."""
    form = form_of(copied, target_langs, new=True)
    return replace(form, source=source.id, source_data=form_of(event_data(source), target_langs).data()[0])


def with_source(form: EventForm, source: Event | None, target_langs: Iterable[str]) -> EventForm:
    """A submitted duplicate's form, told again what its source said (the browser sends only the source's id)."""
    if source is None:
        return replace(form, source=None)
    return replace(form, source_data=form_of(event_data(source), target_langs).data()[0])


def _drop_empty(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "", {}, [])}


def _row(values: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {name[len(prefix):]: value for name, value in values.items() if name.startswith(prefix + ".")}


def _without(values: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {name: value for name, value in values.items() if not name.startswith(prefix)}
