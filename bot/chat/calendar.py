"""An event as an iCalendar (.ics) file: its own time zone, venue and broadcast link; a pure function."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar
from icalendar import Event as VEvent

from bot.domain import Event
from bot.rendering.context import view

PRODID = "-//announce-bot//chat//EN"


def event_ics(event: Event, lang: str, *, now: datetime | None = None, uid_domain: str = "announce-bot") -> bytes:
    """The event in `lang` as an .ics file: DTSTART/DTEND in the event's zone with a VTIMEZONE, the venue
    as LOCATION, the first broadcast link (else the event's page) as URL, every link in the DESCRIPTION.

    The UID is stable per event, so importing the file again updates the calendar entry instead of
    adding a second one.
    """
    shown = view(event, lang)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", shown.title)
    entry = VEvent()
    entry.add("uid", f"{event.id}@{uid_domain}")
    entry.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    entry.add("dtstart", event.start)  # aware, in the event's ZoneInfo: written with TZID
    entry.add("dtend", event.end)
    entry.add("summary", shown.title)
    entry.add("location", ", ".join(part for part in (shown.venue, shown.address) if part))
    if shown.status == "cancelled":
        entry.add("status", "CANCELLED")
    else:
        entry.add("status", "CONFIRMED")
    link = shown.live[0].url if shown.live else shown.url
    if link:
        entry.add("url", link)
    lines = [shown.lead or shown.topic, ""]
    if shown.speakers:
        lines.append(", ".join(person.name for person in shown.speakers))
    lines += [f"{item.label}: {item.url}" for item in shown.live]
    if shown.url:
        lines.append(shown.url)
    entry.add("description", "\n".join(lines).strip())
    calendar.add_component(entry)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def ics_filename(event: Event) -> str:
    return f"{event.id}.ics"
