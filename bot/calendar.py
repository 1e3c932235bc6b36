"""Every .ics the bot hands out (the chat bot's file and the web's feeds): one UID per event, one status mapping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, vDuration
from icalendar import Event as VEvent

from bot.config.settings import WebSettings
from bot.domain import Event, EventStatus
from bot.links import absolute, event_path, uid_domain
from bot.rendering.context import view
from bot.summaries import synopsis

PRODID = "-//announce-bot//events//EN"
# RFC 5545 3.8.1.11. A postponed event's old date no longer holds and the new one is not known yet.
STATUS: dict[EventStatus, str] = {
    EventStatus.SCHEDULED: "CONFIRMED",
    EventStatus.POSTPONED: "TENTATIVE",
    EventStatus.CANCELLED: "CANCELLED",
    EventStatus.DRAFT: "TENTATIVE",  # never published; a preview only
}


def uid(event: Event, web: WebSettings) -> str:
    """The event's calendar UID: the same in every file, so a second import updates the entry, never adds one."""
    return f"{event.id}@{uid_domain(web)}"


def page_link(event: Event, web: WebSettings, lang: str | None = None) -> str | None:
    """The event's public page on this app when public_url is set, else the organiser's own page."""
    own = None if lang in (None, event.lang) else lang
    return absolute(web, event_path(event.id, own)) or event.url or event.live.get("website")


def entry(event: Event, web: WebSettings, lang: str, now: datetime) -> VEvent:
    """One VEVENT: DTSTART/DTEND in the event's own zone (TZID), the venue, the status, the links."""
    shown = view(event, lang)
    item = VEvent()
    item.add("uid", uid(event, web))
    item.add("dtstamp", now.astimezone(UTC))
    item.add("dtstart", event.start)  # aware, in the event's ZoneInfo: written with TZID and a VTIMEZONE
    item.add("dtend", event.end)
    item.add("summary", shown.title)
    item.add("location", ", ".join(part for part in (shown.venue, shown.address) if part))
    item.add("status", STATUS[event.status])
    page = page_link(event, web, lang)
    if page:
        item.add("url", page)
    lines = [synopsis(event, lang)]
    if shown.speakers:
        lines.append(", ".join(person.name for person in shown.speakers))
    lines += [f"{link.label}: {link.url}" for link in shown.live]
    if page:
        lines.append(page)
    item.add("description", "\n\n".join(line for line in lines if line))
    return item


def calendar_ics(events: Sequence[Event], web: WebSettings, *, name: str, now: datetime,
                 lang: str | None = None, refresh: timedelta | None = None) -> bytes:
    """A calendar of `events`, each in `lang` (else in its own language). `refresh`: a subscribed feed, which
    calendar apps read again that often (RFC 7986 REFRESH-INTERVAL; X-PUBLISHED-TTL for Outlook)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    if refresh is not None:
        calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(refresh))
    for event in events:
        calendar.add_component(entry(event, web, lang or event.lang, now))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def event_ics(event: Event, web: WebSettings, lang: str, *, now: datetime) -> bytes:
    """One event as its own .ics file, named after its title."""
    return calendar_ics([event], web, name=view(event, lang).title, now=now, lang=lang)


def ics_filename(event: Event) -> str:
    return f"{event.id}.ics"
