"""The synopsis every card and summary surface shows (bot/summaries.py), and the venue's address in parts."""

from __future__ import annotations

import pytest

from bot.domain import Event, EventStatus, PostKind
from bot.rendering.context import view
from bot.summaries import synopsis
from tests.rendering.minimal import minimal_event

WHAT_EN = "an expert discussion dedicated to the Russia-DPRK Treaty and the security situation in Northeast Asia"
WHAT_RU = ("экспертную дискуссию, посвящённую договору России и КНДР и ситуации с безопасностью в "
           "Северо-Восточной Азии")


def test_without_a_lead_the_synopsis_says_what_on_what_where_and_when(reference_event: Event) -> None:
    assert reference_event.lead is None
    assert synopsis(reference_event, "en") == (
        f"The Valdai Club will host {WHAT_EN} in Moscow on November 27, 2024, at 11:00 Moscow Time (GMT+3).")
    assert synopsis(reference_event, "ru") == (
        f"Клуб «Валдай» проведёт {WHAT_RU}, 27 ноября 2024 г. в 11:00 по московскому времени в Москве.")


def test_a_lead_is_the_synopsis_while_the_event_stands(reference_event: Event) -> None:
    led = reference_event.model_copy(update={"lead": {"en": "Experts meet.", "ru": "Эксперты встретятся."}})
    assert synopsis(led, "en") == "Experts meet."
    assert synopsis(led, "ru") == "Эксперты встретятся."
    # A lead written for the event as planned would not say it is cancelled: the generated sentence does.
    cancelled = led.model_copy(update={"status": EventStatus.CANCELLED})
    assert synopsis(cancelled, "en").startswith("The Valdai Club has cancelled an expert discussion")


@pytest.mark.parametrize(("status", "en", "ru"), [
    (EventStatus.CANCELLED, f"The Valdai Club has cancelled {WHAT_EN} in Moscow, planned for November 27, 2024.",
     f"Клуб «Валдай» отменяет {WHAT_RU}, назначенную на 27 ноября 2024 г. в Москве."),
    (EventStatus.POSTPONED, f"The Valdai Club has postponed {WHAT_EN} in Moscow; the new date will be announced.",
     f"Клуб «Валдай» переносит {WHAT_RU} в Москве; новая дата будет объявлена дополнительно."),
])
def test_a_cancelled_or_postponed_event_says_so(reference_event: Event, status: EventStatus, en: str,
                                                ru: str) -> None:
    changed = reference_event.model_copy(update={"status": status})
    assert synopsis(changed, "en") == en
    assert synopsis(changed, "ru") == ru


def test_the_summary_post_says_what_happened(reference_event: Event) -> None:
    assert synopsis(reference_event, "en", PostKind.SUMMARY).startswith(
        "On November 27, the Valdai Club hosted an expert discussion")


@pytest.mark.parametrize(("city", "phrase"), [
    ("Москва", "в Москве"), ("Владивосток", "во Владивостоке"), ("Нижний Новгород", "в Нижнем Новгороде"),
    ("Санкт-Петербург", "в Санкт-Петербурге"), ("Ростов-на-Дону", "в Ростове-на-Дону"),
])
def test_russian_names_the_city_in_the_prepositional_case(city: str, phrase: str) -> None:
    event = minimal_event(lang="ru", organiser="Городской форум", format="семинар", topic="будущему городов",
                          venue={"name": "Ратуша", "locality": city})
    text = synopsis(event, "ru")
    assert text.startswith("Городской форум проведёт семинар, посвящённый будущему городов, 14 марта 2025 г. в ")
    assert text.endswith(f" {phrase}.")


def test_without_a_city_the_venue_is_named() -> None:
    event = minimal_event()  # address: one line ("Berlin"), no locality
    assert synopsis(event, "en") == ("The Urban Forum will host an event dedicated to the future of cities at Town "
                                     "Hall on March 14, 2025, at 18:00 Central European Time (GMT+1).")
    assert synopsis(event, "ru").endswith("(Town Hall).")


def test_an_unknown_language_falls_back_to_the_description() -> None:
    event = minimal_event(description="Cities changed. Many did.")
    assert synopsis(event, "de") == "Cities changed."


def test_an_address_in_parts_reads_as_one_line_and_the_country_in_each_language(reference_event: Event) -> None:
    assert reference_event.venue.address is None and reference_event.venue.country == "RU"
    assert view(reference_event, "en").address == "Tsvetnoy boulevard 16/1, Moscow, Russia"
    assert view(reference_event, "ru").address == "Цветной бульвар, 16/1, Москва, Россия"
    assert view(reference_event, "ru").locality == "Москва"
    # The one-line address of older files is still read, and shown as written.
    assert view(minimal_event(), "en").address == "Berlin"


def test_a_venue_needs_an_address_in_some_form() -> None:
    with pytest.raises(ValueError, match="give the venue's address"):
        minimal_event(venue={"name": "Town Hall"})
    with pytest.raises(ValueError, match="String should match pattern"):
        minimal_event(venue={"name": "Town Hall", "locality": "Berlin", "country": "Germany"})
