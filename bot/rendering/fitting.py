"""Fits a rendered post to a platform's declared limits: split at paragraphs, then lines, sentences, words."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.errors import FitError
from bot.platforms import PlatformSpec

# A space inside a tag (`<span class="tg-spoiler">`) is no place to split; user text in HTML markups is
# escaped, so every '<' and '>' there belongs to a tag.
_OUTSIDE_TAG = r"(?![^<>]*>)"
_SENTENCE_END = re.compile(r"(?<=[.!?…»”])\s+" + _OUTSIDE_TAG)
_WORD_GAP = re.compile(r" " + _OUTSIDE_TAG)
_HTML_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|.", re.DOTALL)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")

# Each level breaks a piece that is still too long into smaller pieces, and says how to join them back.
_LEVELS: tuple[tuple[Callable[[str], list[str]], str], ...] = (
    (lambda text: text.split("\n\n"), "\n\n"),
    (lambda text: text.split("\n"), "\n"),
    (_SENTENCE_END.split, " "),
    (_WORD_GAP.split, " "),
)


def fit(text: str, spec: PlatformSpec, *, first_limit: int | None = None) -> list[str]:
    """Return the parts `text` must be published as, each within the limit.

    A post that fits is returned whole. Otherwise it is split at the coarsest boundary that works
    (paragraph, line, sentence, word); only a single word longer than a whole message is cut, since
    there is no other way to publish it. `first_limit` is a smaller limit for the first part (a photo's
    caption). Raises FitError when more parts than the platform's declared maximum would be needed.
    """
    text = text.strip()
    first = first_limit or spec.max_length
    if spec.measure(text) <= first:
        return [text]
    if spec.max_parts <= 1:
        raise FitError(f"{spec.label}: {spec.measure(text)} > {first} and the platform takes one part only")
    # Tags do not count towards any limit we declare, so closing and reopening them changes no length.
    # Leave room for "12/12" on a line of its own when parts are numbered.
    reserve = spec.measure(f"\n{spec.max_parts}/{spec.max_parts}") if spec.number_parts else 0

    def budget(index: int) -> int:
        return (first if index == 0 else spec.max_length) - reserve

    html = spec.markup.is_html
    parts = _pack(text, 0, budget, spec.measure, html, 0)
    if html:
        parts = rebalance(parts)
    if len(parts) > spec.max_parts:
        raise FitError(
            f"{spec.label}: the post needs {len(parts)} parts of at most {spec.max_length}, "
            f"more than the {spec.max_parts} this platform allows; shorten the text"
        )
    if spec.number_parts and len(parts) > 1:
        parts = [f"{part}\n{i}/{len(parts)}" for i, part in enumerate(parts, 1)]
    return parts


def _pack(
    text: str, level: int, budget: Callable[[int], int], measure: Callable[[str], int], html: bool, done: int
) -> list[str]:
    """Greedily pack pieces of `text` (split at `level`) into parts; part number i gets `budget(i)`.

    `done` counts the parts completed before `text` began, so that nested levels know which part they fill.
    """
    if level == len(_LEVELS):
        return _cut(text, budget, measure, html, done)
    split, joiner = _LEVELS[level]
    parts: list[str] = []
    current = ""
    for raw in split(text):
        piece = raw.strip() if joiner != "\n" else raw.rstrip()
        if not piece:
            continue
        limit = budget(done + len(parts))
        candidate = f"{current}{joiner}{piece}" if current else piece
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
            current = ""
            limit = budget(done + len(parts))
        if measure(piece) <= limit:
            current = piece
        else:
            smaller = _pack(piece, level + 1, budget, measure, html, done + len(parts))
            parts.extend(smaller[:-1])
            current = smaller[-1]
    if current:
        parts.append(current)
    return parts


def _cut(word: str, budget: Callable[[int], int], measure: Callable[[str], int], html: bool, done: int) -> list[str]:
    """Last resort for one overlong word: cut between characters, never inside a tag or entity."""
    tokens = _HTML_TOKEN.findall(word) if html else list(word)
    parts: list[str] = []
    while tokens:
        # The longest prefix within the budget, found by bisection: measuring is the costly part.
        low, high = 1, len(tokens)
        limit = budget(done + len(parts))
        while low < high:
            middle = (low + high + 1) // 2
            if measure("".join(tokens[:middle])) <= limit:
                low = middle
            else:
                high = middle - 1
        parts.append("".join(tokens[:low]))
        tokens = tokens[low:]
    return parts


def _open_tags(text: str, stack: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    stack = list(stack or [])
    for match in _TAG.finditer(text):
        closing, name = match.group(1), match.group(2).lower()
        if not closing:
            stack.append((name, match.group(0)))
        elif stack and stack[-1][0] == name:
            stack.pop()
    return stack


def rebalance(parts: list[str]) -> list[str]:
    """Close the tags a split left open at the end of a part and reopen them at the start of the next."""
    result: list[str] = []
    stack: list[tuple[str, str]] = []
    for part in parts:
        opened = "".join(tag for _, tag in stack)
        stack = _open_tags(part, stack)
        closing = "".join(f"</{name}>" for name, _ in reversed(stack))
        result.append(f"{opened}{part}{closing}")
    return result
