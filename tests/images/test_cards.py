"""Event cards: drawn for the reference event in every size, text always inside, fonts for every script, cached."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.config.settings import BrandingSettings, Settings, WebSettings
from bot.domain import Cover, Event, EventStatus, RenderedPost
from bot.images import CardContent, CardSize, CardStore, Style, content_of, draw_card
from bot.images.cards import layout
from bot.images.fonts import SYSTEM, Face, chain, face, missing
from tests.conftest import ROOT, RenderFn

ARTIFACTS = ROOT / "var" / "test-artifacts" / "cards"
STYLE = Style.of(BrandingSettings())
FACES = chain()


def dejavu_only() -> tuple[Face, ...]:
    regular, bold = SYSTEM[-1]
    found = face("DejaVu", Path(regular), Path(bold))
    if found is None:
        pytest.skip("DejaVu is not installed here")
    return (found,)


def assert_inside(content: CardContent, size: CardSize, faces: tuple[Face, ...], style: Style = STYLE) -> None:
    """Every block within the canvas and above the band, none overlapping the next."""
    plan = layout(content, size, style, faces)
    width, height = size.pixels
    blocks = [p for p in plan.blocks if p.field != "site"]
    for placed in plan.blocks:
        x0, y0, x1, y1 = placed.box
        assert x0 >= 0 and x1 <= width, (placed.field, placed.box)
        assert y0 >= 0 and y1 <= height, (placed.field, placed.box)
        for line in placed.block.lines:
            assert placed.block.setter.length(line) <= placed.width + 0.5, (placed.field, line)
    below_header = sorted((p for p in blocks if p.field not in ("organisation", "status")), key=lambda p: p.y)
    for upper, lower in itertools.pairwise(below_header):
        assert upper.box[3] <= lower.y + 0.5, (upper.field, lower.field)
    assert all(p.box[3] <= plan.band[1] for p in blocks), "text runs into the bottom band"
    assert "title" in {p.field for p in plan.blocks} and "when" in {p.field for p in plan.blocks}


@pytest.fixture(scope="module")
def artifacts() -> Iterator[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield ARTIFACTS


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("size", list(CardSize))
def test_the_reference_events_card(reference_event: Event, artifacts: Path, lang: str, size: CardSize) -> None:
    organisation = {"en": "Valdai Discussion Club", "ru": "Международный дискуссионный клуб «Валдай»"}[lang]
    content = content_of(reference_event, lang, organisation)
    assert content.when == {"en": "Wednesday, November 27, 2024, 11:00–13:00 Moscow Time (GMT+3)",
                            "ru": "Среда, 27 ноября 2024\u202fг., 11:00–13:00 по московскому времени"}[lang]
    assert missing(FACES, [content.title, content.venue, *content.speakers, content.organisation]) == ""
    assert_inside(content, size, FACES)
    image = draw_card(content, size, STYLE, FACES)
    assert image.size == size.pixels and image.mode == "RGB"
    # Looked at by eye: var/test-artifacts/cards/russia-dprk-treaty.<lang>.<size>.png
    image.save(artifacts / f"{reference_event.id}.{lang}.{size.value}.png")
    plan = layout(content, size, STYLE, FACES)
    assert [p.field for p in plan.blocks] == ["organisation", "series", "title", "when", "venue", "speakers", "site"]


def test_dzen_and_og_sizes_are_what_the_platforms_ask() -> None:
    assert CardSize.DZEN.pixels[0] >= 700  # Dzen ignores covers narrower than 700 px
    assert CardSize.OG.pixels == (1200, 630)
    assert CardSize.X.pixels == (1600, 900)


def test_a_cancelled_event_says_so(reference_event: Event, artifacts: Path) -> None:
    event = reference_event.model_copy(update={"status": EventStatus.CANCELLED})
    content = content_of(event, "ru", "Клуб «Валдай»")
    assert content.status == "Отменено"
    plan = layout(content, CardSize.TELEGRAM, STYLE, FACES)
    [badge] = [p for p in plan.blocks if p.field == "status"]
    assert badge.block.lines == ("ОТМЕНЕНО",)
    draw_card(content, CardSize.TELEGRAM, STYLE, FACES).save(artifacts / "cancelled.ru.telegram.png")


def long_content() -> CardContent:
    return CardContent(
        lang="en", organisation="The International Association of Very Long Organisation Names " * 3,
        series="A Series Whose Name Goes On And On " * 4,
        title=" ".join(["Extraordinarily-long-hyphenated-compound-title-word"] * 3 + ["and many more words"] * 20),
        when="Wednesday, November 27, 2024, 11:00 – Thursday, November 28, 2024, 13:00 Moscow Time (GMT+3)",
        venue="An Enormous Conference Centre With A Very Long Name, Building 16, 1234 Some Boulevard, Moscow " * 3,
        speakers=tuple(f"Speaker Number{n} With-A-Long-Surname" for n in range(40)),
        status="Postponed", site="events.a-very-long-domain-name-for-an-organisation.example.org",
    )


@pytest.mark.parametrize("size", list(CardSize))
def test_long_texts_wrap_and_shrink_never_overflow(size: CardSize, artifacts: Path) -> None:
    content = long_content()
    assert_inside(content, size, FACES)
    plan = layout(content, size, STYLE, FACES)
    title = next(p for p in plan.blocks if p.field == "title")
    assert title.block.lines[-1].endswith("…")  # cut, and says so
    if size is CardSize.TELEGRAM:
        draw_card(content, size, STYLE, FACES).save(artifacts / "long-texts.telegram.png")


@pytest.mark.slow  # ~1.5 min on a loaded 2-core machine: every card size lays out 700 unbreakable characters
def test_a_word_longer_than_the_line_is_broken_between_characters() -> None:
    content = replace(long_content(), title="A" * 400, speakers=("Б" * 300,), venue="x")
    for size in CardSize:
        assert_inside(content, size, FACES)


def test_cjk_names_use_a_font_that_has_them(reference_event: Event, artifacts: Path) -> None:
    content = replace(content_of(reference_event, "en", "Valdai"), title="瓦尔代俱乐部讨论俄朝条约与东北亚安全局势" * 3,
                      speakers=("徐博", "Dmitry Kiku", "Дмитрий Кику", "김정은"))
    assert missing(FACES, [content.title, *content.speakers]) == ""
    assert_inside(content, CardSize.OG, FACES)
    title = next(p for p in layout(content, CardSize.OG, STYLE, FACES).blocks if p.field == "title")
    assert len(title.block.lines) > 1  # CJK wraps between characters, having no spaces
    draw_card(content, CardSize.OG, STYLE, FACES).save(artifacts / "cjk.og.png")


def test_a_missing_font_is_named_and_the_card_still_drawn(reference_event: Event) -> None:
    faces = dejavu_only()
    content = replace(content_of(reference_event, "en", "Valdai"), speakers=("徐博", "Dmitry Kiku"))
    assert missing(faces, [*content.speakers, content.title]) == "徐博"  # what the warning names
    assert draw_card(content, CardSize.OG, STYLE, faces).size == (1200, 630)
    # With no font file at all, Pillow's own font: Latin only, but a card.
    assert draw_card(content, CardSize.OG, STYLE, ()).size == (1200, 630)
    assert missing((), ["Valdai Кику"]) == "Кику"


def test_an_unusable_brand_font_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        faces = chain(tmp_path / "Brand-Regular.ttf")
    assert "cannot use the brand font" in caplog.text and str(tmp_path / "Brand-Regular.ttf") in caplog.text
    assert faces == FACES


text = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=160)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(title=text.filter(str.strip), venue=text, series=text, names=st.lists(text, max_size=12),
       size=st.sampled_from(list(CardSize)))
def test_any_text_stays_inside(title: str, venue: str, series: str, names: list[str], size: CardSize) -> None:
    content = replace(long_content(), title=title, venue=venue, series=series, speakers=tuple(names), status="")
    assert_inside(content, size, FACES)


# -- the cache and the links ---------------------------------------------------------------------------


def store(tmp_path: Path, **web: str) -> CardStore:
    return CardStore(Settings(branding=BrandingSettings(cards_dir=tmp_path / "cards"), web=WebSettings(**web)))


def test_a_card_is_drawn_once_and_redrawn_when_the_event_changes(tmp_path: Path, reference_event: Event) -> None:
    cards = store(tmp_path)
    first = cards.path(reference_event, "en", CardSize.OG)
    stamp = first.stat().st_mtime_ns
    assert cards.path(reference_event, "en", CardSize.OG) == first and first.stat().st_mtime_ns == stamp
    assert Image.open(first).size == (1200, 630)
    # Not drawn on the card: the same file.
    reworded = reference_event.model_copy(update={"description": "Another text."})
    assert cards.path(reworded, "en", CardSize.OG) == first
    # Drawn on the card: a new file, and the old one goes.
    renamed = reference_event.model_copy(update={"title": {"en": "A New Title", "ru": "Новое название"}})
    second = cards.path(renamed, "en", CardSize.OG)
    assert second != first and second.is_file() and not first.exists()
    assert cards.path(renamed, "ru", CardSize.OG) != second
    assert cards.path(renamed, "en", CardSize.X) != second
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cards" / reference_event.id).iterdir()) == \
        ["en", "en", "ru"]


def test_the_logo_is_drawn_and_a_bad_one_is_reported(tmp_path: Path, reference_event: Event,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (300, 100), "#ff0000").save(logo)
    style = replace(STYLE, logo=logo)
    content = content_of(reference_event, "en", "Valdai Discussion Club")
    image = draw_card(content, CardSize.TELEGRAM, style, FACES)
    plan = layout(content, CardSize.TELEGRAM, style, FACES)
    assert plan.logo_box is not None
    x0, y0, _, _ = plan.logo_box
    assert image.getpixel((x0 + 5, y0 + 5)) == (255, 0, 0)
    organisation = next(p for p in plan.blocks if p.field == "organisation")
    assert organisation.x >= x0 + 180  # beside the logo, not over it
    logo.write_bytes(b"not an image")
    with caplog.at_level(logging.WARNING):
        assert draw_card(content, CardSize.TELEGRAM, style, FACES).size == (1280, 720)
    assert "cannot read the logo" in caplog.text


def test_the_image_a_post_carries(tmp_path: Path, reference_event: Event, render: RenderFn) -> None:
    post: RenderedPost = render("announcement", "dzen", "ru")
    assert post.image is None
    assert store(tmp_path).image_for(reference_event, post) is None  # no public_url: nobody could fetch it
    cards = store(tmp_path, public_url="https://events.valdaiclub.com")
    url = cards.image_for(reference_event, post)
    assert url == f"https://events.valdaiclub.com{cards.relative_url(reference_event, 'ru', CardSize.DZEN)}"
    assert url is not None and "lang=ru&size=dzen&v=" in url
    tweet = render("announcement", "x", "en")
    assert "size=x" in (cards.image_for(reference_event, tweet) or "")
    covered = reference_event.model_copy(update={"cover": Cover(url="https://valdaiclub.com/cover.jpg")})
    with_cover = render("announcement", "telegram", "en", event=covered)
    assert cards.image_for(covered, with_cover) == "https://valdaiclub.com/cover.jpg"
