"""Rendering the reference event with the real templates: golden files, facts, escaping and template faults.

Golden files: tests/rendering/golden/<kind>.<platform>.<lang>.txt hold every post of the reference event as it
is published, its parts joined with "\\n\\n=====\\n\\n". After an intended change of a template or of the
reference event, regenerate them and review the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/rendering/test_renderer.py -k golden

With UPDATE_GOLDEN=1 the golden tests (re)write the files instead of comparing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.domain import Event, Person, Platform, PostKind, RenderedPost
from bot.errors import ConfigError
from bot.platforms import SPECS, telegram_length, visible_text
from bot.rendering.markup import dzen_html_problems, telegram_html_problems
from bot.rendering.renderer import Destination, Renderer

RenderFn = Callable[..., RenderedPost]

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
SEPARATOR = "\n\n=====\n\n"

KINDS = ("announcement", "reminder", "live", "summary", "changed")
PLATFORMS = ("telegram", "vk", "x", "dzen")
LANGS = ("en", "ru")

TITLES = {"en": "Valdai Club to Discuss Russia-North Korea Treaty", "ru": "Клуб «Валдай» обсудит договор России и КНДР"}
EVENT_URL = "https://valdaiclub.com/events/announcements/russia-dprk-treaty/"
STREAMS = {
    "website": "https://valdaiclub.com/multimedia/video/russia-dprk-treaty/",
    "x": "https://x.com/valdaiclub",
    "vk": "https://vk.com/valdaiclub",
    "telegram": "https://t.me/valdaiclub",
    "dzen": "https://dzen.ru/valdaiclub",
}

# Written out from /work/shared/seeds/event-announcement.txt, the announcement the event was transcribed from.
SPEAKERS_EN = {
    "Dmitry Kiku": "Deputy Director of the Department for Control over External Restrictions of the Ministry of "
    "Finance of the Russian Federation",
    "Georgy Toloraya": "Head of the Center of Russian Strategy in Asia of the Institute of Economics, RAS; "
    "Senior Researcher, Institute of China and Contemporary Asia, RAS",
    "Ilya Dyachkov": "Associate Professor of the Department of Japanese, Korean, Indonesian and Mongolian "
    "Languages at MGIMO university",
    "Anton Khlopkov": "Director of the Centre for Energy and Security (Moscow)",
    "Xu Bo": "Professor at the Northeast Asia Research Center of Jilin University (Changchun, China)",
    "Konstantin Asmolov": "Leading Research Fellow at the Korean Studies Center, Institute of China and "
    "Contemporary Asia of the Russian Academy of Sciences",
}
MODERATOR_EN = ("Ivan Timofeev", "Programme Director of the Valdai Discussion Club")
SPEAKERS_RU = ("Дмитрий Кику", "Георгий Толорая", "Илья Дьячков", "Антон Хлопков", "Сюй Бо", "Константин Асмолов")
MODERATOR_RU = "Иван Тимофеев"


def plain(post: RenderedPost) -> str:
    """What a reader sees of the whole post: HTML markups reduced to their visible text."""
    text = SEPARATOR.join(part.text for part in post.parts)
    return visible_text(text) if SPECS[post.platform].markup.is_html else text


def raw(post: RenderedPost) -> str:
    return SEPARATOR.join(part.text for part in post.parts)


def assert_valid(post: RenderedPost) -> None:
    spec = SPECS[post.platform]
    for part in post.parts:
        assert spec.measure(part.text) <= spec.max_length
        if post.platform is Platform.TELEGRAM:
            assert telegram_html_problems(part.text) == []
        if post.platform is Platform.DZEN:
            assert dzen_html_problems(part.text) == []


# --- golden files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("kind", KINDS)
def test_golden(render: RenderFn, kind: str, platform: str, lang: str) -> None:
    post = render(kind, platform, lang)
    actual = SEPARATOR.join(part.text for part in post.parts) + "\n"
    golden = GOLDEN_DIR / f"{kind}.{platform}.{lang}.txt"
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run UPDATE_GOLDEN=1 .venv/bin/pytest {__file__}"
    assert golden.read_text(encoding="utf-8") == actual, (
        f"{golden.name} differs from the rendered post; if the change is intended, "
        "regenerate with UPDATE_GOLDEN=1 and review the diff"
    )
    assert_valid(post)


def test_every_golden_file_belongs_to_a_rendered_post() -> None:
    expected = {f"{k}.{p}.{lang}.txt" for k in KINDS for p in PLATFORMS for lang in LANGS}
    assert {path.name for path in GOLDEN_DIR.glob("*.txt")} == expected


# --- facts of the announcement ----------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["telegram", "vk", "dzen"])
def test_english_announcement_carries_every_fact_of_the_seed(render: RenderFn, platform: str) -> None:
    post = render("announcement", platform, "en")
    seen = plain(post)
    for name, position in SPEAKERS_EN.items():
        assert f"{name}, {position}" in seen
    assert f"{MODERATOR_EN[0]}, {MODERATOR_EN[1]}" in seen
    for fact in (
        "Multipolarity and Connectivity",
        "Valdai Club to Discuss Russia-North Korea Treaty",
        "November 27",
        "11:00",
        "Moscow Time",
        "GMT+3",
        "Valdai Club Conference Hall, Tsvetnoy boulevard 16/1, Moscow, Russia",
        "The Valdai Club will host an expert discussion dedicated to the Russia-DPRK Treaty and the security "
        "situation in Northeast Asia.",
        "Working languages: Russian, English.",
        "In order to get accredited for the event, please fill out the form on our web site.",
        "please call +7 926 930-77-63.",
        "Links to the live broadcast will be posted on all online platforms of the Valdai Club: on the website, X, "
        "VK, Telegram and Dzen.",
        # The three paragraphs of the description, by their first and last words.
        "Since the start of the special military operation in Ukraine",
        "consideration of each other’s interests.”",
        "The threat of unilateral restrictive measures in connection with cooperation with the DPRK is unlikely",
        "The participants in the discussion will try to answer these and other questions.",
    ):
        assert fact in seen, fact
    assert "https://valdaiclub.com/about/accreditation/" in raw(post)
    assert EVENT_URL in raw(post)
    assert post.link == EVENT_URL
    assert post.title == "Valdai Club to Discuss Russia-North Korea Treaty"
    assert len(post.parts) == 1
    assert_valid(post)


@pytest.mark.parametrize("platform", ["telegram", "vk", "dzen"])
def test_russian_announcement_is_in_russian(render: RenderFn, platform: str) -> None:
    post = render("announcement", platform, "ru")
    seen = plain(post)
    for name in (*SPEAKERS_RU, MODERATOR_RU):
        assert name in seen
    for fact in (
        "Клуб «Валдай» обсудит договор России и КНДР",
        "27 ноября",
        "📅 27 ноября в 11:00 по московскому времени",
        "Клуб «Валдай» проведёт экспертную дискуссию, посвящённую договору России и КНДР и ситуации с "
        "безопасностью в Северо-Восточной Азии.",
        "Цветной бульвар, 16/1, Москва",
        "Рабочие языки: русский, английский.",
        "Для аккредитации на мероприятие заполните, пожалуйста, форму на нашем сайте.",
        "По вопросам о мероприятии звоните по телефону +7 926 930-77-63.",
        "Ссылки на прямую трансляцию будут опубликованы на сайте, в X, во ВКонтакте, в Telegram и в Дзене.",
    ):
        assert fact in seen, fact
    for english in ("Speakers", "Moderator", "Dmitry Kiku", "November", "Working languages"):
        assert english not in seen
    for wrong in ("(Москва, GMT+3)", "сайт, X", "+79269307763"):
        assert wrong not in seen
    assert_valid(post)


@pytest.mark.parametrize("lang", LANGS)
def test_x_announcement_has_title_and_date_first_and_its_link_once_at_the_end(render: RenderFn, lang: str) -> None:
    post = render("announcement", "x", lang)
    first = post.parts[0].text
    assert first.startswith(TITLES[lang])
    assert ("November 27" if lang == "en" else "27 ноября") in first
    # One link per thread by default (X bills a post with a URL 13 times more): at the end of the last part.
    assert raw(post).count(EVENT_URL) == 1
    assert post.parts[-1].text.endswith(f"{EVENT_URL}\n{len(post.parts)}/{len(post.parts)}")
    assert_valid(post)


# --- live, summary ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("platform", ["telegram", "vk"])
def test_live_post_on_telegram_and_vk_carries_every_stream(render: RenderFn, platform: str, lang: str) -> None:
    post = render("live", platform, lang)
    for url in STREAMS.values():
        assert url in raw(post)
    assert post.link == STREAMS[platform]
    assert_valid(post)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_live_post_carries_its_own_platforms_stream(render: RenderFn, platform: str, lang: str) -> None:
    post = render("live", platform, lang)
    assert STREAMS[platform] in raw(post)
    assert post.link == STREAMS[platform]


@pytest.mark.parametrize("lang", LANGS)
def test_live_post_on_x_links_x_and_not_the_other_networks(render: RenderFn, lang: str) -> None:
    text = raw(render("live", "x", lang))
    assert STREAMS["x"] in text
    for other in ("vk", "telegram", "dzen"):
        assert STREAMS[other] not in text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("platform", ["telegram", "vk", "dzen"])
def test_summary_carries_every_report_paragraph(
    render: RenderFn, reference_event: Event, platform: str, lang: str
) -> None:
    report = reference_event.report
    assert isinstance(report, dict)
    paragraphs = report[lang].split("\n\n")
    assert len(paragraphs) == 8
    post = render("summary", platform, lang)
    for paragraph in paragraphs:
        # Whole, within one part: no paragraph is cut.
        assert any(paragraph in visible_text(part.text) for part in post.parts), paragraph[:60]
    assert_valid(post)


@pytest.mark.parametrize("lang", LANGS)
def test_telegram_summary_is_split_into_valid_messages(render: RenderFn, lang: str) -> None:
    post = render("summary", "telegram", lang)
    assert 2 <= len(post.parts) <= 5
    assert post.fitted
    for part in post.parts:
        assert telegram_html_problems(part.text) == []
        assert telegram_length(part.text) <= 4096
        assert part.length == telegram_length(part.text)
    assert post.parts[0].text.startswith("<b>")


# --- escaping ---------------------------------------------------------------------------------------------

HOSTILE_TITLE = "A <b>&amp; B"
HOSTILE_NAME = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def hostile_event(reference_event: Event) -> Event:
    speaker = Person(name=HOSTILE_NAME, position='R&D "lab" <main>')
    # The live post names the topic rather than the title: both are hostile.
    return reference_event.model_copy(
        update={"title": HOSTILE_TITLE, "topic": HOSTILE_TITLE, "speakers": (speaker, *reference_event.speakers[1:])}
    )


@pytest.mark.parametrize("kind", ["announcement", "live"])
@pytest.mark.parametrize("platform", ["telegram", "dzen"])
def test_special_characters_are_escaped_in_html_markups(
    render: RenderFn, hostile_event: Event, platform: str, kind: str
) -> None:
    post = render(kind, platform, "en", event=hostile_event)
    text = raw(post)
    assert "A &lt;b&gt;&amp;amp; B" in text
    assert "&lt;script&gt;" in text
    assert "<script>" not in text
    assert "<b>&amp; B" not in text
    # ...and the reader sees exactly what the organiser wrote.
    assert HOSTILE_TITLE in plain(post)
    assert HOSTILE_NAME in plain(post)
    assert_valid(post)


@pytest.mark.parametrize("kind", ["announcement", "live"])
@pytest.mark.parametrize("platform", ["vk", "x"])
def test_special_characters_are_verbatim_in_plain_text(
    render: RenderFn, hostile_event: Event, platform: str, kind: str
) -> None:
    text = raw(render(kind, platform, "en", event=hostile_event))
    assert HOSTILE_TITLE in text
    if (platform, kind) != ("x", "live"):  # the X live post names no speakers
        assert HOSTILE_NAME in text
    assert "&lt;" not in text
    assert "&#39;" not in text


def test_hostile_position_is_escaped_on_telegram_and_verbatim_on_vk(render: RenderFn, hostile_event: Event) -> None:
    assert "R&amp;D &#34;lab&#34; &lt;main&gt;" in raw(render("announcement", "telegram", "en", event=hostile_event))
    assert 'R&D "lab" <main>' in raw(render("announcement", "vk", "en", event=hostile_event))


def test_a_title_with_a_line_break_renders_on_dzen(render: RenderFn, reference_event: Event) -> None:
    event = Event.model_validate({**reference_event.model_dump(), "title": "Line one\nLine two"})
    post = render("live", "dzen", "en", event=event)
    assert dzen_html_problems(post.parts[0].text) == []


# --- template faults --------------------------------------------------------------------------------------


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A private copy of the real templates, to break."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy)
    return copy


def render_with(templates: Path, event: Event, kind: str, platform: str, lang: str = "en") -> RenderedPost:
    return Renderer(templates).render(
        event, PostKind(kind), Destination(target=platform, platform=Platform(platform), lang=lang)
    )


def test_the_copied_templates_render(templates: Path, reference_event: Event) -> None:
    post = render_with(templates, reference_event, "announcement", "telegram")
    assert "Valdai Club" in post.parts[0].text


def test_a_jinja_syntax_error_is_a_config_error_naming_the_template(templates: Path, reference_event: Event) -> None:
    broken = templates / "announcement.en.j2"
    broken.write_text("{{ event.title }}\n{% if event.url %}\nno endif\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        render_with(templates, reference_event, "announcement", "telegram")
    assert str(broken) in str(info.value)
    assert "line" in str(info.value)


def test_a_syntax_error_in_an_x_template_names_that_template(templates: Path, reference_event: Event) -> None:
    broken = templates / "x" / "live.en.j2"
    broken.write_text("{{ event.title ", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        render_with(templates, reference_event, "live", "x")
    assert "x/live.en.j2" in str(info.value)
    # The shared template, used by the other platforms, still renders.
    assert render_with(templates, reference_event, "live", "vk").parts


def test_compile_finds_a_syntax_error_before_a_post_is_due(templates: Path) -> None:
    (templates / "summary.ru.j2").write_text("{% for x in %}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"summary\.ru\.j2"):
        Renderer(templates).compile("summary.ru.j2")


def test_an_undefined_variable_is_a_config_error_naming_the_template(templates: Path, reference_event: Event) -> None:
    broken = templates / "reminder.en.j2"
    broken.write_text("{{ event.title }} {{ event.no_such_field }}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        render_with(templates, reference_event, "reminder", "vk")
    assert str(broken) in str(info.value)
    assert "no_such_field" in str(info.value)


def test_an_undefined_name_in_a_condition_is_a_config_error(templates: Path, reference_event: Event) -> None:
    broken = templates / "changed.en.j2"
    broken.write_text("{% if speakers %}x{% endif %}{{ event.title }}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"changed\.en\.j2"):
        render_with(templates, reference_event, "changed", "dzen")


def test_a_missing_language_is_a_config_error_naming_the_looked_for_templates(
    templates: Path, reference_event: Event
) -> None:
    with pytest.raises(ConfigError) as info:
        render_with(templates, reference_event, "announcement", "telegram", lang="de")
    message = str(info.value)
    assert "telegram/announcement.de.j2" in message
    assert "announcement.de.j2" in message
    assert "'de'" in message


def test_a_deleted_template_is_a_config_error(templates: Path, reference_event: Event) -> None:
    (templates / "summary.en.j2").unlink()
    with pytest.raises(ConfigError, match=r"summary\.en\.j2"):
        render_with(templates, reference_event, "summary", "vk")
    # The X summary has its own template and is unaffected.
    assert render_with(templates, reference_event, "summary", "x").parts


def test_a_template_writing_a_tag_telegram_does_not_know_is_a_config_error(
    templates: Path, reference_event: Event
) -> None:
    broken = templates / "announcement.en.j2"
    broken.write_text("<div>{{ event.title }}</div>\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        render_with(templates, reference_event, "announcement", "telegram")
    assert str(broken) in str(info.value)
    assert "<div>" in str(info.value)


@pytest.mark.parametrize(("lang", "promise"), [("en", "will be posted"), ("ru", "будут опубликованы")])
def test_the_announcement_edited_at_go_live_no_longer_promises_links_to_come(
    renderer: Renderer, reference_event: Event, lang: str, promise: str
) -> None:
    destination = Destination(target="telegram", platform=Platform.TELEGRAM, lang=lang)
    before = renderer.render(reference_event, PostKind.ANNOUNCEMENT, destination).parts[0].text
    edited = renderer.render(reference_event, PostKind.ANNOUNCEMENT, destination, live_now=True).parts[0].text
    assert promise in before and promise not in edited
    # Only that paragraph goes: the rest of the announcement reads as before.
    kept = [paragraph for paragraph in before.split("\n\n") if promise not in paragraph]
    assert edited.split("\n\n") == kept
