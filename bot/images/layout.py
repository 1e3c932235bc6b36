"""Setting text in a box: runs per font and direction, a font per user-perceived character, word wrapping (CJK
between any two characters, never inside a cluster), shrinking to fit.

Right-to-left text (Arabic, Hebrew) and emoji sequences need Pillow's libraqm layout (Pillow's wheels bring it;
it loads FriBiDi from the system, Debian's libfribidi0): then each run is shaped and ordered by raqm, and the
spaces and punctuation between an Arabic name and the Latin around it stay on the Latin side. Without it Pillow's
basic layout draws every character alone, left to right: Arabic letters unjoined and in logical order, a flag or
family as its parts; the log says so once."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

import regex
from PIL import ImageDraw, ImageFont, features

from bot.images.fonts import Face, Font, builtin, clusters, face_for, load

log = logging.getLogger(__name__)

ELLIPSIS = "…"
# A CJK character is a word of its own: lines may break before or after any of them.
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
# Lines break at plain spaces only: a no-break space (U+00A0) keeps a name's words together.
_TOKEN = re.compile(rf"[{_CJK}]| +|[^ {_CJK}]+ *")
_BLANKS = re.compile(r"[ \t\r\n]+")


_RTL = regex.compile(r"[\p{bc=R}\p{bc=AL}]")
_STRONG = regex.compile(r"[\p{L}\p{bc=R}\p{bc=AL}]")


@cache
def raqm() -> bool:
    """Whether Pillow lays text out with libraqm (shaping, bidi, ligatures such as flags and emoji sequences)."""
    available = bool(features.check("raqm"))
    if not available:
        log.warning("cards: Pillow has no libraqm layout here (install libfribidi0 / libraqm0): right-to-left text "
                    "is drawn unjoined and left to right, and emoji sequences and flags as their parts")
    return available


@dataclass(frozen=True)
class Run:
    """Consecutive characters drawn with one font in one direction."""

    font: Font
    text: str
    rtl: bool

    @property
    def direction(self) -> str | None:
        shaped = getattr(self.font, "layout_engine", None) == ImageFont.Layout.RAQM
        return ("rtl" if self.rtl else "ltr") if shaped and raqm() else None

    def length(self) -> float:
        return float(self.font.getlength(self.text, direction=self.direction))


def right_to_left(text: str) -> bool:
    """A paragraph's direction, as Unicode's bidi algorithm finds it: that of its first letter."""
    first = _STRONG.search(text)
    return bool(first and _RTL.match(first.group()))


def _directions(parts: list[str], base: bool) -> list[bool]:
    """Per cluster, whether it is right-to-left. Letters say so themselves; spaces, digits, punctuation and
    emoji between two right-to-left letters are too, any other follows the paragraph's direction `base` (so the
    spaces around an Arabic name in a Latin title stay outside it)."""
    strong = [None if not _STRONG.search(part) else bool(_RTL.search(part)) for part in parts]
    resolved: list[bool] = []
    for index, kind in enumerate(strong):
        if kind is not None:
            resolved.append(kind)
            continue
        before = next((k for k in reversed(strong[:index]) if k is not None), base)
        after = next((k for k in strong[index + 1:] if k is not None), base)
        resolved.append(bool(before and after))
    return resolved


@dataclass(frozen=True)
class Setter:
    """Text in one weight and size, each user-perceived character in the first face of the chain that has it all."""

    faces: tuple[Face, ...]
    bold: bool
    size: int
    rtl: bool = False  # the paragraph's direction (right_to_left): a line of it is laid out in that order

    def _font(self, face: Face | None) -> Font:
        if face is None:
            return builtin(self.size)
        if face.variable:
            return load(face.regular, self.size, 700 if self.bold else 400)
        return load(face.bold if self.bold else face.regular, self.size)

    def runs(self, text: str) -> list[Run]:
        """The runs in the order they are drawn from left to right."""
        if not self.faces:
            return [Run(builtin(self.size), text, False)] if text else []
        parts = clusters(text)
        directions = _directions(parts, self.rtl)
        runs: list[tuple[Face, str, bool]] = []
        for part, rtl in zip(parts, directions, strict=True):
            face = face_for(part, self.faces)
            if runs and part.isspace() and runs[-1][2] == rtl and not runs[-1][0].emoji:
                # A space stays in its run; one between directions goes with the next, one after an emoji is the
                # text face's (the emoji font's space is an emoji wide).
                face = runs[-1][0]
            if face is None:
                # No face has it: the missing-glyph box of the run's face (the store logs which characters).
                face = runs[-1][0] if runs else self.faces[0]
            if runs and runs[-1][0] is face and runs[-1][2] == rtl:
                runs[-1] = (face, runs[-1][1] + part, rtl)
            else:
                runs.append((face, part, rtl))
        ordered = [Run(self._font(face), part, rtl) for face, part, rtl in runs]
        return ordered[::-1] if self.rtl and raqm() else ordered  # a right-to-left paragraph: runs right to left

    def length(self, text: str) -> float:
        return sum(run.length() for run in self.runs(text))

    @property
    def line_height(self) -> int:
        return round(self.size * 1.22)

    def draw(self, canvas: ImageDraw.ImageDraw, x: float, baseline: float, text: str, fill: str) -> None:
        # Every run on one baseline, so a CJK name, an Arabic one and a Latin one sit on the same line.
        for run in self.runs(text):
            canvas.text((x, baseline), run.text, font=run.font, fill=fill, anchor="ls", direction=run.direction)
            x += run.length()


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(_BLANKS.sub(" ", text).strip())


def wrap(text: str, setter: Setter, width: float) -> list[str]:
    """`text` in lines no wider than `width`; a word longer than a line is broken between characters."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if setter.length((line + token).rstrip()) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
            line = ""
        token = token.lstrip()
        parts = clusters(token)  # a word longer than a line breaks between user-perceived characters only
        while setter.length("".join(parts).rstrip()) > width and len(parts) > 1:
            cut = len(parts) - 1
            while cut > 1 and setter.length("".join(parts[:cut])) > width:
                cut -= 1
            lines.append("".join(parts[:cut]))
            parts = parts[cut:]
        line = "".join(parts)
    if line.strip():
        lines.append(line.rstrip())
    return lines


def ellipsize(text: str, setter: Setter, width: float) -> str:
    """`text` cut (at a word when it can) so that it and an ellipsis fit in `width`."""
    if setter.length(text) <= width:
        return text
    cut = text
    while cut and setter.length(cut.rstrip(" ,;:·-–—") + ELLIPSIS) > width:
        cut = cut.rstrip()
        cut = cut.rsplit(" ", 1)[0] if " " in cut else "".join(clusters(cut)[:-1])
    return cut.rstrip(" ,;:·-–—") + ELLIPSIS


@dataclass(frozen=True)
class Block:
    """Text set in lines at one size: what a card draws for one field."""

    setter: Setter
    lines: tuple[str, ...]

    @property
    def height(self) -> int:
        return self.setter.line_height * len(self.lines)


def fit(text: str, faces: tuple[Face, ...], *, bold: bool, width: float, max_lines: int, largest: int,
        smallest: int) -> Block:
    """The largest size from `largest` down to `smallest` at which `text` wraps into `max_lines`; at the smallest,
    the lines beyond the last are cut with an ellipsis. Nothing is ever wider than `width`."""
    size = largest
    rtl = right_to_left(text)
    while True:
        setter = Setter(faces, bold, size, rtl)
        lines = wrap(text, setter, width)
        if len(lines) <= max_lines or size <= smallest:
            break
        size = max(smallest, int(size * 0.93))
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1:])
        lines = [*lines[: max_lines - 1], ellipsize(rest, setter, width)]
    return Block(setter, tuple(lines))
