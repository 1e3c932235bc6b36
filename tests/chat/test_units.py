"""The pure parts: the texts table, flood control, card clipping, reminder texts (the Pacer: test_ratelimit.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat.core import card, clip
from bot.chat.flood import Throttle
from bot.chat.texts import LANGS, TEXTS, lang_of, t
from bot.domain import Event, Person
from bot.platforms import telegram_length
from bot.rendering.markup import telegram_html_problems


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    for key, forms in TEXTS.items():
        assert set(forms) == set(LANGS), key
        fields = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in forms.items()}
        assert fields["en"] == fields["ru"], key
        for text in forms.values():
            if not fields["en"]:
                assert telegram_html_problems(text) == [], key


def test_values_are_escaped_and_languages_fall_back() -> None:
    assert t("search_none", "en", query="<script>&") == "Nothing found for “&lt;script&gt;&amp;”."
    assert lang_of("ru-RU") == "ru" and lang_of("de") == "en" and lang_of(None) == "en"
    assert t("hint", "de") == TEXTS["hint"]["en"]


def test_throttle_allows_a_burst_then_the_rate_and_warns_once() -> None:
    now = [0.0]
    gate = Throttle(burst=3, rate=1.0, clock=lambda: now[0])
    assert [gate.allow(7) for _ in range(5)] == [(True, False)] * 3 + [(False, True), (False, False)]
    assert gate.allow(8) == (True, False)  # someone else is not affected
    now[0] = 1.0
    assert gate.allow(7) == (True, False)
    assert gate.allow(7) == (False, True)  # a new flood gets a new warning
    assert gate.refused == 3


def test_throttle_forgets_quiet_people_to_bound_memory() -> None:
    now = [0.0]
    gate = Throttle(burst=2, rate=1.0, clock=lambda: now[0], max_people=10)
    for user in range(10):
        gate.allow(user)
    now[0] = 5.0
    gate.allow(99)
    assert len(gate._buckets) == 1


def test_a_card_with_many_speakers_still_fits(reference_event: Event) -> None:
    crowd = tuple(Person(name=f"Speaker {i}", position="A very long affiliation " * 8) for i in range(60))
    event = reference_event.model_copy(update={"speakers": crowd})
    text = card(event, "en")
    assert telegram_length(text) <= 4096 and telegram_html_problems(text) == []
    assert "Speaker 59" in text  # names kept, affiliations dropped
    huge = "\n".join(f"<b>line {i}</b>" for i in range(2000))
    clipped = clip(huge)
    assert telegram_length(clipped) <= 4096 and clipped.endswith("…") and not telegram_html_problems(clipped)


@pytest.mark.parametrize("lang", LANGS)
def test_reminder_text_says_how_long_is_left(reference_event: Event, lang: str) -> None:
    from bot.chat.broadcast import reminder_text

    # By the event's calendar, as the channel posts say it: a day before is "tomorrow", three days "in 3 days".
    text = reminder_text(reference_event, "reminder", lang, reference_event.start - timedelta(days=1))
    assert ("starts tomorrow" if lang == "en" else "завтра") in text
    sooner = reminder_text(reference_event, "reminder", lang, reference_event.start - timedelta(days=3))
    assert ("in 3 days" if lang == "en" else "через 3 дня") in sooner
    hours = reminder_text(reference_event, "reminder", lang, reference_event.start - timedelta(hours=2))
    assert ("in 2 hours" if lang == "en" else "через 2 часа") in hours
    assert telegram_html_problems(text) == []


def test_a_card_leaves_the_accreditation_out_once_it_has_closed(reference_event: Event) -> None:
    data = reference_event.model_dump()
    data["accreditation"]["deadline"] = datetime(2024, 11, 25, 18, 0)  # Moscow time: 15:00 UTC
    event = Event.model_validate(data)
    closes = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)
    assert "Accreditation" in card(event, "en", closes - timedelta(minutes=1))
    assert "Accreditation" not in card(event, "en", closes) and "+7 926 930-77-63" not in card(event, "en", closes)
