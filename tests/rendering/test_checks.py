"""bot.rendering.checks: the warnings `validate` shows, each naming the event and the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Campaign, Event, Platform, PostKind, Step
from bot.rendering.checks import (
    EventWarning,
    copied_texts,
    event_warnings,
    grammar,
    missing_live_links,
    mixed_language,
    report_too_early,
)
from bot.rendering.renderer import Destination, Renderer
from tests.rendering.minimal import minimal_event

CAMPAIGN = Campaign(
    platforms=(Platform.TELEGRAM, Platform.VK, Platform.X),
    steps=(
        Step(id="announcement", kind=PostKind.ANNOUNCEMENT, at="start - 7d"),
        Step(id="live", kind=PostKind.LIVE, at="start", platforms=(Platform.TELEGRAM, Platform.X)),
    ),
)
NO_LIVE_STEP = Campaign(steps=(Step(id="announcement", kind=PostKind.ANNOUNCEMENT, at="start - 7d"),))


def fields(warnings: list[EventWarning]) -> list[tuple[str, str]]:
    return [(w.event_id, w.field) for w in warnings]


# --- live links -------------------------------------------------------------------------------------------


def test_a_live_step_and_no_live_link_is_a_warning_naming_the_platforms() -> None:
    event = minimal_event(url="https://example.org/e")
    (warning,) = missing_live_links(event, CAMPAIGN)
    assert (warning.event_id, warning.field) == ("minimal", "live")
    assert "telegram, x" in warning.message and "the event page" in warning.message
    assert str(warning).startswith("minimal: live: no live links")


def test_a_missing_stream_for_one_platform_is_named() -> None:
    event = minimal_event(live={"telegram": "https://t.me/urban"})
    (warning,) = missing_live_links(event, CAMPAIGN)
    assert "for x:" in warning.message and "nothing" in warning.message


def test_a_website_stream_covers_every_platform_and_no_live_step_needs_none(reference_event: Event) -> None:
    assert missing_live_links(reference_event, CAMPAIGN) == []
    assert missing_live_links(minimal_event(live={"website": "https://example.org/live"}), CAMPAIGN) == []
    assert missing_live_links(minimal_event(), NO_LIVE_STEP) == []


# --- copied texts -----------------------------------------------------------------------------------------


def test_a_copied_event_is_warned_about_each_field_it_did_not_change(reference_event: Event) -> None:
    copy = reference_event.model_copy(
        update={"id": "new-event", "title": {"en": "Another Title", "ru": "Другое название"}}
    )
    warnings = copied_texts([reference_event, copy])
    copied = {"topic", "description", "hashtags", "moderator", "report"}
    assert set(fields(warnings)) == {(e, f) for e in ("new-event", "russia-dprk-treaty") for f in copied}
    by_field = {w.field: w for w in warnings if w.event_id == "new-event"}
    assert "'russia-dprk-treaty'" in by_field["report"].message


def test_one_language_copied_is_enough_and_whitespace_or_case_do_not_hide_it() -> None:
    first = minimal_event(id="first", topic={"en": "the future of cities", "ru": "будущему городов"})
    second = minimal_event(id="second", title="Other", topic={"en": "The future  of\ncities", "ru": "другому"})
    assert ("second", "topic") in fields(copied_texts([first, second]))


def test_different_events_and_a_shared_series_or_venue_are_no_warning() -> None:
    first = minimal_event(id="first", series="Urban Talks")
    second = minimal_event(id="second", series="Urban Talks", title="Other", topic="housing")
    assert copied_texts([first, second]) == []


# --- a report before the event ----------------------------------------------------------------------------


def test_a_report_before_the_event_has_ended_is_a_warning(reference_event: Event) -> None:
    before = reference_event.start - timedelta(days=3)
    (warning,) = report_too_early(reference_event, before)
    assert (warning.event_id, warning.field) == ("russia-dprk-treaty", "report")
    assert "2024-11-27 13:00" in warning.message
    assert report_too_early(reference_event, reference_event.end + timedelta(minutes=1)) == []
    assert report_too_early(minimal_event(), datetime(2025, 1, 1, tzinfo=UTC)) == []


# --- mixed languages --------------------------------------------------------------------------------------


def test_a_russian_post_of_an_english_only_event_is_mixed_and_names_the_fields(renderer: Renderer) -> None:
    event = minimal_event(description="A long English description of what the forum will discuss, " * 3)
    post = renderer.render(event, PostKind.ANNOUNCEMENT, Destination(target="vk", platform=Platform.VK, lang="ru"))
    (warning,) = mixed_language(post, event)
    for field in ("title", "organiser", "topic", "description"):
        assert field in warning.field
    assert "format" not in warning.field  # the default format is said in Russian
    assert "mostly not in Cyrillic" in warning.message


def test_an_english_post_with_russian_texts_is_mixed(renderer: Renderer, reference_event: Event) -> None:
    russian = reference_event.model_copy(update={"description": reference_event.description["ru"]})  # type: ignore[index]
    post = renderer.render(russian, PostKind.ANNOUNCEMENT, Destination(target="tg", platform=Platform.TELEGRAM,
                                                                      lang="en"))
    (warning,) = mixed_language(post, russian)
    assert warning.field == "description"


@pytest.mark.parametrize("platform", ["telegram", "vk", "x", "dzen"])
@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("kind", list(PostKind))
def test_the_reference_event_is_not_mixed(
    renderer: Renderer, reference_event: Event, platform: str, lang: str, kind: PostKind
) -> None:
    destination = Destination(target=platform, platform=Platform(platform), lang=lang)
    post = renderer.render(reference_event, kind, destination, before_start=timedelta(days=1))
    assert mixed_language(post, reference_event) == []


# --- grammar ----------------------------------------------------------------------------------------------


def test_the_reference_event_reads_right_in_both_languages(reference_event: Event) -> None:
    assert grammar(reference_event, ["en", "ru"]) == []


def test_a_minimal_event_names_what_it_misses_in_russian() -> None:
    warnings = grammar(minimal_event(), ["en", "ru"])
    named = {w.field for w in warnings}
    assert {"title", "organiser", "topic", "format"} <= named
    assert "venue.name" not in named  # a name may rightly be written once
    topic = next(w for w in warnings if w.field == "topic")
    assert "“the future of cities”" in topic.message and "Russian" in topic.message


def test_a_missing_language_in_a_per_language_text_is_named() -> None:
    event = minimal_event(title={"en": "Cities after the Pandemic"}, organiser={"en": "x", "ru": "Форум"},
                          topic={"en": "cities", "ru": "городам"}, format={"en": "a talk", "ru": "лекцию"})
    (warning,) = grammar(event, ["en", "ru"])
    assert (warning.field, warning.message.split(":")[0]) == ("title", "no 'ru' text")


def test_an_english_format_without_its_article_is_named_with_the_fix() -> None:
    (warning,) = grammar(minimal_event(format="expert discussion"), ["en"])
    assert warning.field == "format"
    assert "will host expert discussion dedicated to" in warning.message
    assert "“an expert discussion”" in warning.message
    assert grammar(minimal_event(format="an expert discussion"), ["en"]) == []
    assert grammar(minimal_event(format="Valdai Forum"), ["en"]) == []  # a name


def test_russian_texts_in_the_wrong_case_are_named() -> None:
    event = minimal_event(
        organiser={"en": "the Club", "ru": "Клуба «Валдай»"},
        format={"en": "a discussion", "ru": "экспертная дискуссия"},
        topic={"en": "the treaty", "ru": "договор России и КНДР"},
    )
    named = {w.field: w.message for w in grammar(event, ["ru"])}
    assert set(named) >= {"format.ru", "topic.ru", "organiser.ru"}
    assert "accusative" in named["format.ru"]
    assert "dative" in named["topic.ru"]
    assert "nominative" in named["organiser.ru"]


def test_event_warnings_gathers_the_checks_of_one_event(reference_event: Event) -> None:
    before = reference_event.start - timedelta(days=7)
    warnings = event_warnings(reference_event, campaign=CAMPAIGN, now=before, langs=["en", "ru"])
    assert fields(warnings) == [("russia-dprk-treaty", "report")]
