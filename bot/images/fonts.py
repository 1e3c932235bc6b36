"""The fonts cards are set in: a chain of faces, each user-perceived character (grapheme cluster) drawn with the
first face that has all of it, emoji with the emoji face first."""

from __future__ import annotations

import importlib.util
import logging
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex
from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import ImageFont

log = logging.getLogger(__name__)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Noto Sans CJK covers Latin, Cyrillic, Greek and CJK in one family: the PyPI packages (runtime dependencies,
# so a fresh `make run` has them without root), then Debian's fonts-noto-cjk / fonts-noto-core, then DejaVu
# (Latin and Cyrillic only).
PACKAGED = (
    ("noto_cjk_sans_jp_regular", "NotoSansCJKjp-Regular.otf"),
    ("noto_cjk_sans_jp_bold", "NotoSansCJKjp-Bold.otf"),
)
# After it, the Noto fonts of the manimgx-fonts package (a runtime dependency; SIL Open Font License 1.1, as
# Noto CJK): Noto Sans for the scripts CJK lacks (Arabic, Hebrew, Devanagari, Thai, Georgian…), Noto Sans
# itself (combining marks, rarer Latin), Symbols, and Noto Emoji (monochrome, drawn in the text's colour:
# Pillow draws no colour emoji font at any size, and a card is in the brand's colours anyway). Variable fonts:
# bold is their wght axis at 700.
EXTRA_PACKAGE = "manimgx_fonts"
EXTRA_SKIPPED = ("NotoSans-Italic",)
EMOJI_FONT = "NotoEmoji"
SYSTEM: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)
INSTALL_HINT = ("pip install noto-cjk-sans-jp-regular noto-cjk-sans-jp-bold (the bot's own dependencies), "
                "or apt-get install fonts-noto-cjk")


@dataclass(frozen=True)
class Face:
    """One typeface in a regular and a bold file (one variable file: bold at wght 700), and the characters it has."""

    name: str
    regular: Path
    bold: Path
    chars: frozenset[int]
    variable: bool = False
    emoji: bool = False

    def has(self, char: str) -> bool:
        return ord(char) in self.chars

    def has_all(self, points: Iterable[int]) -> bool:
        return all(point in self.chars for point in points)


def _packaged() -> tuple[Path, Path] | None:
    found: list[Path] = []
    for module, filename in PACKAGED:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            return None
        found.append(Path(next(iter(spec.submodule_search_locations))) / filename)
    return (found[0], found[1]) if all(path.is_file() for path in found) else None


def _chars(path: Path) -> frozenset[int]:
    """The code points a font file maps (the first font of a collection)."""
    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            font = TTCollection(str(path), lazy=True).fonts[0]
        else:
            font = TTFont(str(path), lazy=True)
        return frozenset(font.getBestCmap() or {})
    except (OSError, TTLibError) as exc:
        log.warning("cards: cannot read the font %s (%s); skipped", path, exc)
        return frozenset()


def _extra() -> list[Path]:
    """The font files of the manimgx-fonts package, Noto Emoji last (a text font's digits and # come first)."""
    spec = importlib.util.find_spec(EXTRA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = [path for path in sorted(folder.glob("*.ttf")) if not path.stem.startswith(EXTRA_SKIPPED)]
    return sorted(files, key=lambda path: path.stem.startswith(EMOJI_FONT))


def candidates(font: Path | None = None, font_bold: Path | None = None) -> Iterator[tuple[str, Path, Path]]:
    """The font files to try, best first: a brand typeface, the bundled Noto (CJK, then the other scripts, symbols
    and emoji), the system's."""
    if font is not None:
        yield "brand", font, font_bold or font
    packaged = _packaged()
    if packaged is not None:
        yield "Noto Sans CJK (bundled)", *packaged
    for path in _extra():
        yield f"{path.stem} (bundled)", path, path
    for regular, bold in SYSTEM:
        yield Path(regular).stem, Path(regular), Path(bold)


def face(name: str, regular: Path, bold: Path) -> Face | None:
    """The face in these files, None when the regular file is missing or unreadable (bold falls back to it)."""
    if not regular.is_file():
        return None
    chars = _chars(regular)
    if not chars:
        return None
    return Face(name=name, regular=regular, bold=bold if bold.is_file() else regular, chars=chars,
                variable=regular == bold and _weights(regular), emoji=regular.stem.startswith(EMOJI_FONT))


def _weights(path: Path) -> bool:
    """Whether the font is variable along a weight axis (its bold is wght 700)."""
    try:
        font = TTFont(str(path), lazy=True)
        return "fvar" in font and any(axis.axisTag == "wght" for axis in font["fvar"].axes)
    except (OSError, TTLibError):
        return False


@lru_cache(maxsize=8)
def chain(font: Path | None = None, font_bold: Path | None = None) -> tuple[Face, ...]:
    """The faces found on this machine, read once per process. Empty: only Pillow's Latin-only built-in font."""
    faces: list[Face] = []
    for name, regular, bold in candidates(font, font_bold):
        found = face(name, regular, bold)
        if found is None and name == "brand":
            log.warning("cards: cannot use the brand font %s; using the bundled fonts", regular)
        if found is not None:
            faces.append(found)
    if not faces:
        log.warning("cards: no font file found; cards use Pillow's built-in font (Latin only). Install: %s",
                    INSTALL_HINT)
    return tuple(faces)


@lru_cache(maxsize=256)
def load(path: Path, size: int, weight: int | None = None) -> Font:
    """The font at `size`; `weight`: a variable font's wght axis (700 for bold)."""
    font = ImageFont.truetype(str(path), size)
    if weight is not None:
        font.set_variation_by_axes([weight])
    return font


def builtin(size: int) -> Font:
    return ImageFont.load_default(size)


# Joiners and variation selectors: part of a cluster, which a font need not map to draw it.
IGNORABLE = frozenset({0x200C, 0x200D, 0xFE0E, 0xFE0F})
_CLUSTER = regex.compile(r"\X")
# What makes a cluster an emoji: drawn with the emoji face first, though a text font may have its base (#, ❤).
_EMOJI = regex.compile(r"[\p{Emoji_Presentation}\p{Regional_Indicator}\u200D\uFE0F\u20E3\U0001F3FB-\U0001F3FF]")


def clusters(text: str) -> list[str]:
    """The user-perceived characters of `text` (extended grapheme clusters): a flag, a family, a letter with its
    accents are one each; composed where Unicode can (e + U+0308 is ë, which more fonts have)."""
    return [unicodedata.normalize("NFC", cluster) for cluster in _CLUSTER.findall(text)]


def face_for(cluster: str, faces: tuple[Face, ...]) -> Face | None:
    """The first face that has every character of `cluster` (emoji: the emoji face first); None when none has."""
    points = [ord(char) for char in cluster if ord(char) not in IGNORABLE] or [ord(cluster[0])]
    ordered = sorted(faces, key=lambda face: not face.emoji) if _EMOJI.search(cluster) else faces
    return next((face for face in ordered if face.has_all(points)), None)


def missing(faces: tuple[Face, ...], texts: Iterable[str]) -> str:
    """The user-perceived characters of `texts` that no face has whole (spaces aside), in order, each once."""
    if not faces:
        return "".join(dict.fromkeys(c for text in texts for c in text if ord(c) > 0x7E))
    seen = dict.fromkeys(
        cluster for text in texts for cluster in clusters(text)
        if not cluster.isspace() and face_for(cluster, faces) is None
    )
    return "".join(seen)
