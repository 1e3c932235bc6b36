"""The editor's form on its own: texts per language and back, rows, where each of pydantic's errors is shown."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import load_event
from bot.config.export import CLEARED, NEW, copied_fields, event_data
from bot.domain import Event
from bot.web.eventform import SUMMARY, EventForm, check, duplicate_of, editor_langs, form_of, from_request
from tests.conftest import REFERENCE_EVENT_FILE

LANGS = ["en", "ru"]


@pytest.fixture(scope="module")
def event() -> Event:
    return load_event(REFERENCE_EVENT_FILE)


def _form(**values: str) -> EventForm:
    return EventForm(langs=("en", "ru"), values={"lang": "en", **values})


def test_a_text_written_in_the_own_language_only_stands_for_every_language() -> None:
    assert _form(**{"title.en": "Spring Forum"}).text("title") == "Spring Forum"
    assert _form(**{"title.ru": "Весенний форум"}).text("title") == {"ru": "Весенний форум"}
    assert _form(**{"title.en": " A ", "title.ru": "Б"}).text("title") == {"en": "A", "ru": "Б"}
    assert _form(**{"title.en": "  ", "title.ru": ""}).text("title") is None


def test_text_areas_lose_the_browsers_carriage_returns() -> None:
    form = from_request({"lang": "en", "description.en": "One.\r\n\r\nTwo.", "langs": "en ru"}, LANGS)
    assert form.data()[0]["description"] == "One.\n\nTwo."


def test_rows_are_counted_from_the_fields_sent(event: Event) -> None:
    fields = dict(form_of(event_data(event), LANGS).values)
    form = from_request({**fields, "speakers[7].name.en": "Late Addition", "langs": "en ru"}, LANGS)
    assert form.speakers == 8 and form.live == len(event.live) and form.moderator
    # The rows between are blank and left out: the new speaker comes right after the six.
    speakers = form.data()[0]["speakers"]
    assert len(speakers) == 7 and speakers[-1] == {"name": "Late Addition"}


def test_moving_the_first_row_up_or_the_last_down_changes_nothing(event: Event) -> None:
    form = form_of(event_data(event), LANGS)
    assert form.apply("up-speaker-0") == form
    assert form.apply(f"down-speaker-{form.speakers - 1}") == form
    assert form.apply("remove-speaker-99") == form and form.apply("launch-rockets") == form
    assert form.apply("down-speaker-0").apply("up-speaker-1") == form


def test_live_links_keep_their_order_and_a_channel_given_twice_is_named(event: Event) -> None:
    form = form_of(event_data(event), LANGS)
    assert list(form.data()[0]["live"]) == list(event.live)
    twice = replace(form, values={**form.values, "live[1].channel": "website"})
    checked = check(twice)
    assert checked.event is None and checked.errors == {"live[1]": ["the channel 'website' is given twice"]}


@pytest.mark.parametrize(("changes", "slot", "words"), [
    ({"speakers[2].link": "nope"}, "speakers[2].link", "not an http(s) URL: 'nope'"),
    ({"speakers[2].name.en": "", "speakers[2].name.ru": ""}, "speakers[2].name", "Field required"),
    ({"venue.street.en": "", "venue.street.ru": "", "venue.locality.en": "", "venue.locality.ru": ""}, "venue",
     "give the venue's address: one line in `address`, or `street` and `locality`"),
    ({"venue.country": "Russia"}, "venue.country", "String should match pattern '^[A-Z]{2}$'"),
    ({"live[0].channel": "Web Site"}, "live[0]", "a channel's name is 1-32 lower-case letters, digits, _ or -"),
    ({"live[2].url": "vk.com/valdaiclub"}, "live[2]", "not an http(s) URL: 'vk.com/valdaiclub'"),
    ({"languages": "ru english"}, "languages", "[1]: a language is a code of 2 or 3 lower-case letters (en, ru)"),
    ({"cover.alt.en": "A hall"}, "cover.url", "Field required"),
    ({"status": "maybe"}, "status", "Input should be 'scheduled', 'postponed', 'cancelled' or 'draft'"),
    ({"end": "2024-11-27T10:00"}, "end", "end (2024-11-27T10:00:00+03:00) must be after start "
                                         "(2024-11-27T11:00:00+03:00)"),
])
def test_each_error_is_placed_next_to_the_field_it_is_about(event: Event, changes: dict[str, str], slot: str,
                                                            words: str) -> None:
    form = form_of(event_data(event), LANGS)
    checked = check(replace(form, values={**form.values, **changes}))
    assert checked.event is None and checked.errors == {slot: [words]}


def test_a_blank_speaker_before_a_bad_one_does_not_shift_where_its_error_goes(event: Event) -> None:
    form = form_of(event_data(event), LANGS)
    blank = {key: "" for key in form.values if key.startswith("speakers[0].")}
    checked = check(replace(form, values={**form.values, **blank, "speakers[3].link": "x"}))
    assert checked.errors == {"speakers[3].link": ["not an http(s) URL: 'x'"]}  # the model's speakers[2]


def test_an_error_of_no_one_field_goes_to_the_top() -> None:
    form = _form()
    assert form.place((), "something about the whole event") == (SUMMARY, "something about the whole event")
    assert form.place(("title", "de"), "bad") == ("title", "de: bad")


def test_a_duplicate_knows_which_fields_still_repeat_its_source(event: Event) -> None:
    form = duplicate_of(event, copied_fields(event), LANGS)
    assert set(form.repeats()) == {"title", "series", "topic", "description", "speakers", "moderator", "hashtags",
                                   "venue", "accreditation", "format", "languages"}
    changed = replace(form, values={**form.values, "title.ru": "Другое название",
                                                       "hashtags": "#Spring"})
    assert "title" not in changed.repeats() and "hashtags" not in changed.repeats()
    assert "description" in changed.repeats()
    data = form.data()[0]
    assert not [key for key in (*NEW, *CLEARED) if key in data]


def test_the_columns_are_the_events_own_language_then_the_targets_then_any_other_it_uses() -> None:
    assert editor_langs(["en", "ru"]) == ("en", "ru")
    assert editor_langs(["ru"], {"lang": "de", "title": {"de": "Titel", "fr": "Titre"}}) == ("de", "ru", "en", "fr")


def test_an_event_in_the_default_language_stays_in_it_whatever_the_targets_languages(event: Event) -> None:
    english = event.model_copy(update={"title": "One title for all", "lang": "en"})
    form = form_of(event_data(english), ["ru", "en"])  # event_data leaves the default `lang: en` out
    assert form.langs[0] == "en" and form.get("lang") == "en" and form.get("title.en") == "One title for all"
    assert check(form).event == english


def test_the_recording_and_the_accreditation_deadline_go_through_the_form_and_back(event: Event) -> None:
    data = event.model_dump()
    data["accreditation"]["deadline"] = "2024-11-25 18:00"
    data["recording"] = {"vk": "https://vkvideo.ru/video-1_2", "rutube": "https://rutube.ru/video/abc/"}
    given = Event.model_validate(data)
    form = form_of(event_data(given), LANGS)
    assert form.get("accreditation.deadline") == "2024-11-25T18:00"
    assert form.get("recording") == "https://vkvideo.ru/video-1_2 https://rutube.ru/video/abc/"
    checked = check(form)
    assert checked.event == given
    twice = check(replace(form, values={**form.values, "recording": "https://rutube.ru/a https://rutube.ru/b"}))
    assert twice.event is None and twice.errors["recording"] == ["two recordings on rutube: give one link per place"]
    late = check(replace(form, values={**form.values, "accreditation.deadline": "soon"}))
    assert late.errors["accreditation.deadline"] == ["not a date and time: 'soon' (write 2025-03-05 18:00)"]
