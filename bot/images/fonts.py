"""The fonts cards are set in: a chain of faces, each character drawn with the first face that has it."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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
SYSTEM: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)
INSTALL_HINT = ("pip install noto-cjk-sans-jp-regular noto-cjk-sans-jp-bold (the bot's own dependencies), "
                "or apt-get install fonts-noto-cjk")


@dataclass(frozen=True)
class Face:
    """One typeface in a regular and a bold file, and the characters it has."""

    name: str
    regular: Path
    bold: Path
    chars: frozenset[int]

    def has(self, char: str) -> bool:
        return ord(char) in self.chars


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


def candidates(font: Path | None = None, font_bold: Path | None = None) -> Iterator[tuple[str, Path, Path]]:
    """The font files to try, best first: a brand typeface, the bundled Noto, the system's."""
    if font is not None:
        yield "brand", font, font_bold or font
    packaged = _packaged()
    if packaged is not None:
        yield "Noto Sans CJK (bundled)", *packaged
    for regular, bold in SYSTEM:
        yield Path(regular).stem, Path(regular), Path(bold)


def face(name: str, regular: Path, bold: Path) -> Face | None:
    """The face in these files, None when the regular file is missing or unreadable (bold falls back to it)."""
    if not regular.is_file():
        return None
    chars = _chars(regular)
    if not chars:
        return None
    return Face(name=name, regular=regular, bold=bold if bold.is_file() else regular, chars=chars)


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
def load(path: Path, size: int) -> Font:
    return ImageFont.truetype(str(path), size)


def builtin(size: int) -> Font:
    return ImageFont.load_default(size)


def missing(faces: tuple[Face, ...], texts: Iterable[str]) -> str:
    """The characters of `texts` that no face has (spaces and controls aside), in order, each once."""
    if not faces:
        return "".join(dict.fromkeys(c for text in texts for c in text if ord(c) > 0x7E))
    seen = dict.fromkeys(
        c for text in texts for c in text if not c.isspace() and not any(face.has(c) for face in faces)
    )
    return "".join(seen)
