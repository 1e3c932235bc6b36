"""Setting text in a box: runs per font, word wrapping (CJK between any two characters), shrinking to fit."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import ImageDraw

from bot.images.fonts import Face, Font, builtin, load

ELLIPSIS = "…"
# A CJK character is a word of its own: lines may break before or after any of them.
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
# Lines break at plain spaces only: a no-break space (U+00A0) keeps a name's words together.
_TOKEN = re.compile(rf"[{_CJK}]| +|[^ {_CJK}]+ *")
_BLANKS = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True)
class Setter:
    """Text in one weight and size, each character in the first face of the chain that has it."""

    faces: tuple[Face, ...]
    bold: bool
    size: int

    def _font(self, face: Face | None) -> Font:
        if face is None:
            return builtin(self.size)
        return load(face.bold if self.bold else face.regular, self.size)

    def runs(self, text: str) -> list[tuple[Font, str]]:
        if not self.faces:
            return [(builtin(self.size), text)] if text else []
        runs: list[tuple[Face, str]] = []
        for char in text:
            face = next((f for f in self.faces if f.has(char)), None)
            if face is None or (char.isspace() and runs):
                face = runs[-1][0] if runs else self.faces[0]  # a space stays in its run; tofu in the first face
            if runs and runs[-1][0] is face:
                runs[-1] = (face, runs[-1][1] + char)
            else:
                runs.append((face, char))
        return [(self._font(face), part) for face, part in runs]

    def length(self, text: str) -> float:
        return sum(float(font.getlength(part)) for font, part in self.runs(text))

    @property
    def line_height(self) -> int:
        return round(self.size * 1.22)

    def draw(self, canvas: ImageDraw.ImageDraw, x: float, baseline: float, text: str, fill: str) -> None:
        # Every run on one baseline, so a CJK name and a Latin one sit on the same line.
        for font, part in self.runs(text):
            canvas.text((x, baseline), part, font=font, fill=fill, anchor="ls")
            x += float(font.getlength(part))


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
        while setter.length(token.rstrip()) > width and len(token) > 1:
            cut = len(token) - 1
            while cut > 1 and setter.length(token[:cut]) > width:
                cut -= 1
            lines.append(token[:cut])
            token = token[cut:]
        line = token
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
        cut = cut.rsplit(" ", 1)[0] if " " in cut else cut[:-1]
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
    while True:
        setter = Setter(faces, bold, size)
        lines = wrap(text, setter, width)
        if len(lines) <= max_lines or size <= smallest:
            break
        size = max(smallest, int(size * 0.93))
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1:])
        lines = [*lines[: max_lines - 1], ellipsize(rest, setter, width)]
    return Block(setter, tuple(lines))
