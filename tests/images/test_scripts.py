"""Cards draw every character: emoji (with flags, families, rainbows, skin tones), combining marks with their base,
right-to-left names among Latin text; a font per user-perceived character, never the missing-glyph box."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, features

from bot.domain import Event
from bot.images import CardSize, content_of, draw_card
from bot.images.fonts import Face, chain, clusters, face_for, load, missing
from bot.images.layout import Setter
from tests.images.test_cards import STYLE, assert_inside

FACES = chain()
# The strings issue 22 found drawn as boxes or out of order.
HOSTILE = (
    "Запуск 🚀 на орбиту",
    "Россия и Китай 🇷🇺🇨🇳",
    "Семьи 👨\u200d👩\u200d👧\u200d👦 и радуга 🏳️\u200d🌈",
    "Молодцы 👍🏽👍🏿",
    "Zoe\u0308 Saldan\u0303a, Bjo\u0308rk",  # combining marks after their base letter
    "Talks with محمد بن سلمان in Riyadh",
    "שלום עליכם, नमस्ते, สวัสดี, ქართული, Հայերեն",
    "Keycaps 1️⃣ #️⃣ and ✔️ ❤️ ☎",
)
HOSTILE_TITLE = "🚀 Россия 🇷🇺🇨🇳 и мир: Zoe\u0308 и محمد بن سلمان 👨\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 👍🏽"
NOT_A_CHARACTER = "\U0010fffd"  # private use, in no font: what the missing-glyph box looks like


def _ink(font: object, text: str) -> Image.Image:
    image = Image.new("L", (400, 200), 0)
    ImageDraw.Draw(image).text((20, 150), text, font=font, fill=255, anchor="ls")  # type: ignore[arg-type]
    return image


def _is_box(face: Face, cluster: str) -> bool:
    """Whether `face` draws `cluster` as its missing-glyph box (.notdef), compared pixel for pixel."""
    font = load(face.regular, 96, 400 if face.variable else None)
    drawn, box = _ink(font, cluster), _ink(font, NOT_A_CHARACTER)
    return ImageChops.difference(drawn, box).getbbox() is None


@pytest.mark.parametrize("text", HOSTILE)
def test_every_cluster_has_a_face_that_draws_it(text: str) -> None:
    assert missing(FACES, [text]) == ""
    for cluster in clusters(text):
        if cluster.isspace():
            continue
        face = face_for(cluster, FACES)
        assert face is not None, cluster
        assert not _is_box(face, cluster), (cluster, face.name)


def test_emoji_are_drawn_with_the_emoji_face_and_sequences_stay_whole() -> None:
    for cluster in ("🚀", "🇷🇺", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "👍🏽", "1️⃣", "❤️"):
        found = face_for(cluster, FACES)
        assert found is not None and found.emoji, cluster
    assert clusters("🇷🇺🇨🇳") == ["🇷🇺", "🇨🇳"]  # two flags, not four letters
    if features.check("raqm"):
        setter = Setter(FACES, False, 60)
        # One glyph per sequence: a family is as wide as one emoji, not four people and three joiners.
        assert setter.length("👨\u200d👩\u200d👧\u200d👦") == pytest.approx(setter.length("🚀"), rel=0.05)


def test_a_combining_mark_stays_with_its_base() -> None:
    setter = Setter(FACES, True, 60)
    # Composed where Unicode can: e + U+0308 is ë, in the same face as the rest of the word.
    assert [run.text for run in setter.runs("Zoe\u0308")] == ["Zoë"]
    assert setter.length("Zoe\u0308") == pytest.approx(setter.length("Zoe"), rel=0.02)
    # No composed form (q + U+0308): base and mark from one face that has both, never a dotted circle apart.
    cluster = "q\u0308"
    assert clusters("aq\u0308b") == ["a", cluster, "b"]
    face = face_for(cluster, FACES)
    assert face is not None and face.has("q") and face.has("\u0308")
    assert any(cluster in run.text for run in setter.runs("aq\u0308b"))


@pytest.mark.skipif(not features.check("raqm"), reason="bidirectional layout needs Pillow's libraqm")
def test_an_arabic_name_in_a_latin_title_keeps_its_spaces_outside() -> None:
    runs = Setter(FACES, False, 40).runs("Talks with محمد بن سلمان in Riyadh")
    assert [(run.text, run.rtl) for run in runs] == [
        ("Talks with ", False), ("محمد بن سلمان", True), (" in Riyadh", False)]
    # A line in Arabic alone is one right-to-left run.
    assert [(run.text, run.rtl) for run in Setter(FACES, False, 40).runs("محمد بن سلمان")] == [
        ("محمد بن سلمان", True)]


@pytest.mark.parametrize("size", [CardSize.OG, CardSize.TELEGRAM, CardSize.SQUARE])
def test_a_card_with_the_hostile_title(reference_event: Event, size: CardSize) -> None:
    content = replace(content_of(reference_event, "ru", "Клуб «Валдай»"), title=HOSTILE_TITLE,
                      speakers=("Zoe\u0308 Saldan\u0303a", "محمد بن سلمان", "徐博", "👩\u200d🔬 Мария"))
    assert missing(FACES, [content.title, *content.speakers]) == ""
    assert_inside(content, size, FACES)
    image = draw_card(content, size, STYLE, FACES)
    folder = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / f"hostile.{size.value}.png")
    assert image.size == size.pixels
