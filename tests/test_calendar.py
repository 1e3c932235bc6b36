"""bot/calendar.py: one builder for every .ics, with one UID per event and one status mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar
import pytest

from bot.calendar import STATUS, calendar_ics, event_ics, uid
from bot.config.settings import WebSettings
from bot.domain import Event, EventStatus

NOW = datetime(2024, 11, 20, tzinfo=UTC)
UNSET = WebSettings()
PUBLIC = WebSettings(public_url="https://events.valdaiclub.com/")


def entries(data: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def test_one_event_in_its_own_zone_with_venue_and_links(reference_event: Event) -> None:
    data = event_ics(reference_event, UNSET, "en", now=NOW)
    assert data == event_ics(reference_event, UNSET, "en", now=NOW)  # pure
    calendar = icalendar.Calendar.from_ical(data)
    [entry] = calendar.walk("VEVENT")
    assert str(entry["uid"]) == "russia-dprk-treaty@announce-bot"
    assert entry.decoded("dtstart").astimezone(UTC) == datetime(2024, 11, 27, 8, 0, tzinfo=UTC)
    assert entry.decoded("dtend").astimezone(UTC) == datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
    assert entry["dtend"].params["TZID"] == "Europe/Moscow"
    assert [str(zone["tzid"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Moscow"]
    assert str(entry["summary"]) == "Valdai Club to Discuss Russia-North Korea Treaty"
    assert str(entry["location"]) == "Valdai Club Conference Hall, Tsvetnoy boulevard 16/1, Moscow, Russia"
    assert str(entry["url"]) == "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
    description = str(entry["description"])
    # What, on what, where and when: the synopsis (the event has no lead), not the description's first sentence.
    assert description.startswith("The Valdai Club will host an expert discussion dedicated to the Russia-DPRK Treaty")
    assert "on November 27, 2024, at 11:00 Moscow Time (GMT+3)." in description
    assert "Dmitry Kiku" in description and "Telegram: https://t.me/valdaiclub" in description
    assert b"\r\n" in data and all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded as RFC 5545 says
    [russian] = entries(event_ics(reference_event, UNSET, "ru", now=NOW))
    assert str(russian["summary"]) == "Клуб «Валдай» обсудит договор России и КНДР"
    assert str(russian["location"]).startswith("Конференц-зал Клуба «Валдай»")
    assert str(russian["uid"]) == str(entry["uid"])  # one UID whatever the language


def test_with_public_url_the_uid_and_page_are_on_it(reference_event: Event) -> None:
    [entry] = entries(event_ics(reference_event, PUBLIC, "ru", now=NOW))
    assert str(entry["uid"]) == "russia-dprk-treaty@events.valdaiclub.com" == uid(reference_event, PUBLIC)
    assert str(entry["url"]) == "https://events.valdaiclub.com/events/russia-dprk-treaty?lang=ru"


@pytest.mark.parametrize(("status", "expected"), [
    (EventStatus.SCHEDULED, "CONFIRMED"), (EventStatus.POSTPONED, "TENTATIVE"), (EventStatus.CANCELLED, "CANCELLED"),
])
def test_one_status_mapping(reference_event: Event, status: EventStatus, expected: str) -> None:
    event = reference_event.model_copy(update={"status": status})
    [entry] = entries(event_ics(event, UNSET, "en", now=NOW))
    assert str(entry["status"]) == expected == STATUS[status]


def test_a_calendar_of_several_events(reference_event: Event) -> None:
    other = reference_event.model_copy(update={"id": "other-event", "live": {}, "url": None})
    found = entries(calendar_ics([reference_event, other], UNSET, name="Valdai", now=NOW))
    assert [str(e["uid"]) for e in found] == ["russia-dprk-treaty@announce-bot", "other-event@announce-bot"]
    assert "url" not in found[1]  # nothing to link to: no public_url, no page of the organiser's
