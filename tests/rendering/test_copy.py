"""The posts read as an editor would write them, in English and Russian: one date, the zone as each language
names it, countdowns true for any time left, platforms in the right case, phones formatted, agreement."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import Event, EventStatus, Platform, PostKind, RenderedPost
from bot.platforms import SPECS, visible_text
from bot.rendering.context import CountdownKind, countdown, dedicated, phone_number, until, view, zone_label
from bot.rendering.renderer import Destination, Renderer
from tests.rendering.minimal import minimal_event

MOSCOW = ZoneInfo("Europe/Moscow")


def seen(post: RenderedPost) -> str:
    text = "\n\n".join(part.text for part in post.parts)
    return visible_text(text) if SPECS[post.platform].markup.is_html else text


def render(
    renderer: Renderer, event: Event, kind: PostKind, platform: str, lang: str, left: timedelta | None = None
) -> RenderedPost:
    destination = Destination(target=platform, platform=Platform(platform), lang=lang)
    return renderer.render(event, kind, destination, before_start=left)


# --- the announcement -------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["telegram", "vk", "dzen"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_announcement_gives_the_date_once(
    renderer: Renderer, reference_event: Event, platform: str, lang: str
) -> None:
    text = seen(render(renderer, reference_event, PostKind.ANNOUNCEMENT, platform, lang))
    assert text.count("November 27" if lang == "en" else "27 ноября") == 1
    assert text.count("11:00") == 1


@pytest.mark.parametrize("platform", ["telegram", "vk", "dzen", "x"])
def test_russian_names_moscow_time_as_russians_do(renderer: Renderer, reference_event: Event, platform: str) -> None:
    for kind in (PostKind.ANNOUNCEMENT, PostKind.CHANGED) if platform == "x" else (
        PostKind.ANNOUNCEMENT, PostKind.LIVE, PostKind.CHANGED
    ):
        text = seen(render(renderer, reference_event, kind, platform, "ru"))
        assert "по московскому времени" in text
        assert "Москва, GMT" not in text


def test_a_zone_russian_has_no_adjective_for_is_local_time_with_moscow_time() -> None:
    start = view(minimal_event(), "ru").start
    assert start.full == "14 марта в 18:00 по местному времени (20:00 мск)"
    assert view(minimal_event(), "en").start.full == "March 14, 18:00 Central European Time (GMT+1)"


@pytest.mark.parametrize(("zone", "start", "full"), [
    # As an editor writes it: the hour without a leading zero, Moscow's time beside the local one.
    ("Asia/Vladivostok", "2024-12-03 08:30", "3 декабря в 8:30 по местному времени (1:30 мск)"),
    # Moscow's clock already on the previous day: its date too.
    ("Asia/Vladivostok", "2024-12-03 02:30", "3 декабря в 2:30 по местному времени (2 декабря в 19:30 мск)"),
    ("Asia/Shanghai", "2024-12-03 11:00", "3 декабря в 11:00 по местному времени (6:00 мск)"),
    # The same clock as Moscow's: nothing to add up.
    ("Europe/Minsk", "2024-12-03 11:00", "3 декабря в 11:00 по московскому времени"),
])
def test_russian_gives_moscow_time_for_an_event_elsewhere(zone: str, start: str, full: str) -> None:
    event = minimal_event(timezone=zone, start=start, end="2024-12-03 23:50")
    assert view(event, "ru").start.full == full


@pytest.mark.parametrize(("zone", "label"), [
    ("Asia/Shanghai", "GMT+8"), ("America/Chicago", "GMT-6"), ("Europe/Moscow", "MSK"), ("Asia/Kolkata", "GMT+5:30"),
])
def test_tables_name_zones_unambiguously(zone: str, label: str) -> None:
    moment = datetime(2024, 12, 3, 11, 0, tzinfo=ZoneInfo(zone))
    assert zone_label(moment) == label
    if zone != "Europe/Moscow":
        assert moment.tzname() in ("CST", "IST")  # what the tables said before: China or US Central? India or Israel?


def test_russian_lists_the_platforms_in_the_prepositional_case(renderer: Renderer, reference_event: Event) -> None:
    text = seen(render(renderer, reference_event, PostKind.ANNOUNCEMENT, "telegram", "ru"))
    assert "опубликованы на сайте, в X, во ВКонтакте, в Telegram и в Дзене." in text
    reminder = seen(render(renderer, reference_event, PostKind.REMINDER, "vk", "ru", timedelta(days=1)))
    assert "Трансляция пройдёт на сайте, в X, во ВКонтакте, в Telegram и в Дзене." in reminder


def test_english_lists_the_platforms_in_a_sentence(renderer: Renderer, reference_event: Event) -> None:
    reminder = seen(render(renderer, reference_event, PostKind.REMINDER, "vk", "en", timedelta(days=1)))
    assert "The broadcast will be live on the website, X, VK, Telegram and Dzen." in reminder
    # As a list, each platform is a name of its own, capitalised in both languages.
    live = seen(render(renderer, reference_event, PostKind.LIVE, "vk", "ru"))
    assert "• Сайт: https://valdaiclub.com/multimedia/video/russia-dprk-treaty/" in live


def test_phone_numbers_are_written_in_the_international_format() -> None:
    assert phone_number("+79269307763") == "+7 926 930-77-63"
    assert phone_number("+44 20 7946 0958") == "+44 20 7946 0958"
    assert phone_number("+1 (202) 555-0143") == "+1 202-555-0143"
    assert phone_number("12345") == "12345"  # not a number phonenumbers knows: as the organiser wrote it


# --- the live post ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["telegram", "vk", "dzen", "x"])
def test_the_russian_live_post_is_in_the_present_tense(
    renderer: Renderer, reference_event: Event, platform: str
) -> None:
    post = render(renderer, reference_event, PostKind.LIVE, platform, "ru")
    text = seen(post)
    assert "обсудит" not in text
    assert "Прямой эфир: Клуб «Валдай» проводит экспертную дискуссию, посвящённую договору России и КНДР" in text
    assert "обсудит" not in post.title


def test_the_english_live_post_says_what_is_happening(renderer: Renderer, reference_event: Event) -> None:
    post = render(renderer, reference_event, PostKind.LIVE, "telegram", "en")
    assert seen(post).startswith(
        "🔴 Live now: the Valdai Club is hosting an expert discussion dedicated to the Russia-DPRK Treaty"
    )
    assert "11:00–13:00 Moscow Time (GMT+3)" in seen(post)


# --- reminders for any time left --------------------------------------------------------------------------

START = datetime(2024, 11, 27, 11, 0, tzinfo=MOSCOW)  # the reference event, a Wednesday


@pytest.mark.parametrize(
    ("left", "en", "ru"),
    [
        (timedelta(minutes=1), "⏰ Starts in a minute, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через минуту, в 11:00 по московскому времени"),
        (timedelta(minutes=15), "⏰ Starts in 15 minutes, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через 15 минут, в 11:00 по московскому времени"),
        (timedelta(minutes=21, seconds=20), "⏰ Starts in 21 minutes, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через 21 минуту, в 11:00 по московскому времени"),
        (timedelta(hours=1), "⏰ Starts in an hour, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через час, в 11:00 по московскому времени"),
        (timedelta(hours=3), "⏰ Starts in 3 hours, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через 3 часа, в 11:00 по московскому времени"),
        (timedelta(hours=5), "⏰ Starts in 5 hours, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через 5 часов, в 11:00 по московскому времени"),
        (timedelta(hours=1, minutes=28), "⏰ Starts in an hour and a half, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через полтора часа, в 11:00 по московскому времени"),
        (timedelta(hours=2, minutes=30), "⏰ Starts in two and a half hours, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через два с половиной часа, в 11:00 по московскому времени"),
        (timedelta(hours=2, minutes=50), "⏰ Starts in 3 hours, at 11:00 Moscow Time (GMT+3)",
         "⏰ Начало через 3 часа, в 11:00 по московскому времени"),
        (timedelta(hours=7, minutes=10), "⏰ Today at 11:00 Moscow Time (GMT+3)",
         "⏰ Сегодня в 11:00 по московскому времени"),
        (timedelta(hours=50), "⏰ The day after tomorrow, on Wednesday, November 27, at 11:00 Moscow Time (GMT+3)",
         "⏰ Послезавтра, 27 ноября, в 11:00 по московскому времени"),
        (timedelta(minutes=-10), "▶️ Under way: it started 10 minutes ago, at 11:00 Moscow Time (GMT+3)",
         "▶️ Уже идёт: началось 10 минут назад, в 11:00 по московскому времени"),
        (timedelta(days=1), "⏰ Tomorrow, November 27, at 11:00 Moscow Time (GMT+3)",
         "⏰ Завтра, 27 ноября, в 11:00 по московскому времени"),
        (timedelta(hours=14), "⏰ Tomorrow, November 27, at 11:00 Moscow Time (GMT+3)",
         "⏰ Завтра, 27 ноября, в 11:00 по московскому времени"),
        (timedelta(days=3), "⏰ In 3 days, on Wednesday, November 27, at 11:00 Moscow Time (GMT+3)",
         "⏰ Через 3 дня, 27 ноября, в 11:00 по московскому времени"),
        (timedelta(days=21), "⏰ In 21 days, on Wednesday, November 27, at 11:00 Moscow Time (GMT+3)",
         "⏰ Через 21 день, 27 ноября, в 11:00 по московскому времени"),
    ],
)
def test_a_reminder_says_how_long_is_really_left(
    renderer: Renderer, reference_event: Event, left: timedelta, en: str, ru: str
) -> None:
    for lang, expected in (("en", en), ("ru", ru)):
        for platform in ("telegram", "vk"):
            post = render(renderer, reference_event, PostKind.REMINDER, platform, lang, left)
            assert seen(post).split("\n")[2] == expected


@pytest.mark.parametrize(
    ("left", "en", "ru"),
    [
        (timedelta(minutes=15), "⏰ Starts in 15 minutes: ", "⏰ Начало через 15 минут: "),
        (timedelta(hours=1), "⏰ Starts in an hour: ", "⏰ Начало через час: "),
        (timedelta(days=1), "⏰ Tomorrow: ", "⏰ Завтра: "),
        (timedelta(hours=2, minutes=30), "⏰ Starts in two and a half hours: ",
         "⏰ Начало через два с половиной часа: "),
        (timedelta(hours=7, minutes=10), "⏰ Today: ", "⏰ Сегодня: "),
        (timedelta(minutes=-5), "▶️ Under way since 11:00: ", "▶️ Уже идёт, с 11:00: "),
    ],
)
def test_the_x_reminder_leads_with_the_time_left(
    renderer: Renderer, reference_event: Event, left: timedelta, en: str, ru: str
) -> None:
    assert seen(render(renderer, reference_event, PostKind.REMINDER, "x", "en", left)).startswith(en)
    assert seen(render(renderer, reference_event, PostKind.REMINDER, "x", "ru", left)).startswith(ru)


def test_a_reminder_without_a_time_left_gives_the_date(renderer: Renderer, reference_event: Event) -> None:
    text = seen(render(renderer, reference_event, PostKind.REMINDER, "telegram", "en"))
    assert "⏰ November 27, 11:00 Moscow Time (GMT+3)" in text


@pytest.mark.parametrize(
    ("hours", "en", "ru"),
    [(1, "in an hour", "через час"), (3, "in 3 hours", "через 3 часа"), (5, "in 5 hours", "через 5 часов"),
     (21, "in 21 hours", "через 21 час"), (22, "in 22 hours", "через 22 часа")],
)
def test_hours_take_their_plural_from_cldr(hours: int, en: str, ru: str) -> None:
    # Without the start there is no calendar to say "tomorrow" by: the hours are said.
    assert until(timedelta(hours=hours), "en") == en
    assert until(timedelta(hours=hours), "ru") == ru


def test_the_calendar_of_the_event_decides_today_and_tomorrow() -> None:
    late_evening = datetime(2024, 11, 27, 0, 30, tzinfo=MOSCOW)
    assert countdown(timedelta(hours=3, minutes=10), "en", late_evening).kind is CountdownKind.TOMORROW
    assert countdown(timedelta(hours=1, minutes=10), "en", late_evening).phrase == "in an hour"
    assert countdown(timedelta(minutes=50), "en", late_evening).phrase == "in 50 minutes"
    assert countdown(timedelta(hours=10, minutes=5), "ru", START).phrase == "сегодня"
    assert countdown(timedelta(days=2, hours=1), "ru", START).phrase == "послезавтра"
    assert countdown(timedelta(days=3, hours=1), "ru", START).phrase == "через 3 дня"


# --- agreement and the minimal event ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("format_ru", "participle"),
    [("экспертную дискуссию", "посвящённую"), ("круглый стол", "посвящённый"), ("семинар", "посвящённый"),
     ("заседание клуба", "посвящённое"), ("публичные дебаты", "посвящённые"), ("лекцию", "посвящённую")],
)
def test_russian_dedicated_agrees_with_the_format(format_ru: str, participle: str) -> None:
    assert dedicated(format_ru, "ru") == participle


def test_a_round_table_is_announced_with_the_masculine_participle(renderer: Renderer, reference_event: Event) -> None:
    event = reference_event.model_copy(update={"format": {"en": "a round table", "ru": "круглый стол"}})
    text = seen(render(renderer, event, PostKind.ANNOUNCEMENT, "vk", "ru"))
    assert "Клуб «Валдай» проведёт круглый стол, посвящённый договору России и КНДР" in text


@pytest.mark.parametrize("kind", list(PostKind))
def test_a_minimal_event_reads_grammatically_in_english(renderer: Renderer, kind: PostKind) -> None:
    event = minimal_event()
    left = timedelta(hours=1) if kind is PostKind.REMINDER else None
    for platform in ("telegram", "vk", "x", "dzen"):
        text = seen(render(renderer, event, kind, platform, "en", left))
        assert "host event" not in text and "hosting event" not in text
    announcement = seen(render(renderer, event, PostKind.ANNOUNCEMENT, "telegram", "en"))
    assert "The Urban Forum will host an event dedicated to the future of cities." in announcement


def test_a_minimal_event_has_no_english_format_in_russian_posts(renderer: Renderer) -> None:
    event = minimal_event(organiser={"en": "the Urban Forum", "ru": "Городской форум"},
                          topic={"en": "the future of cities", "ru": "будущему городов"})
    text = seen(render(renderer, event, PostKind.ANNOUNCEMENT, "vk", "ru"))
    assert "Городской форум проведёт мероприятие, посвящённое будущему городов." in text
    assert "event" not in text


def test_a_cancelled_event_is_announced_without_a_stray_article(renderer: Renderer, reference_event: Event) -> None:
    cancelled = reference_event.model_copy(update={"status": EventStatus.CANCELLED})
    text = seen(render(renderer, cancelled, PostKind.CHANGED, "vk", "en"))
    assert "We are sorry to announce that the event has been cancelled." in text
    assert "an expert discussion that" not in text



@pytest.mark.parametrize(("lang", "happened"), [
    ("en", "On November 27, the Valdai Club hosted an expert discussion"),
    ("ru", "27 ноября в Клубе «Валдай» состоялась экспертная дискуссия"),
])
def test_the_x_summarys_first_tweet_says_what_happened_and_links_once(renderer: Renderer, reference_event: Event,
                                                                      lang: str, happened: str) -> None:
    post = render(renderer, reference_event, PostKind.SUMMARY, "x", lang)
    first = post.parts[0].text
    assert first.startswith(happened)  # not the headline alone and "1/2"
    assert first.count("https://") == 1 and post.text.count("https://") == 1
    assert post.link is not None and post.link in first
