"""Fits a rendered post to a platform's declared limits: split at paragraphs, then lines, sentences, words."""

from __future__ import annotations

import html as html_module
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import accumulate, pairwise

import regex

from bot.errors import FitError
from bot.platforms import PlatformSpec

# A user-perceived character (an extended grapheme cluster of UAX #29): a flag is two regional indicators,
# a family a ZWJ sequence, 'é' may be 'e' and a combining accent. A part never starts or ends inside one.
_CLUSTER = regex.compile(r"\X")
_SPECIAL = re.compile(r"<[^>]*>|&#?\w+;")  # a tag or an entity: never cut inside
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")

# Each level breaks a piece that is still too long into smaller pieces at a separator, and says how to join
# them back. A separator counts only where both its ends are cut points (see `cut_points`).
_LEVELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\n\n"), "\n\n"),
    (re.compile(r"\n"), "\n"),
    (re.compile(r"(?<=[.!?…»”])\s+"), " "),
    (re.compile(r" "), " "),
)


def _boundaries(text: str) -> frozenset[int]:
    return frozenset(accumulate(map(len, _CLUSTER.findall(text)), initial=0))


def cut_points(text: str, html: bool) -> frozenset[int]:
    """The offsets in `text` where a part may begin or end: the boundaries between the user-perceived
    characters a reader sees, never inside a tag or an entity (for HTML markups)."""
    specials = list(_SPECIAL.finditer(text)) if html else []
    if not specials:
        return _boundaries(text)
    # Tags show nothing and an entity shows what it stands for: find the clusters in what a reader sees, then
    # map them back. Between two tags or entities, offsets in the text and in what is seen differ by a constant.
    seen: list[str] = []
    runs: list[tuple[int, int, int]] = []  # plain text: (start, end, offset of its start in the visible text)
    tokens: list[tuple[int, int]] = []  # a tag or entity: (start, offset in the visible text)
    last = visible_length = 0
    for match in specials:
        if match.start() > last:
            runs.append((last, match.start(), visible_length))
            seen.append(text[last : match.start()])
            visible_length += match.start() - last
        tokens.append((match.start(), visible_length))
        shown = _shown(match.group())
        seen.append(shown)
        visible_length += len(shown)
        last = match.end()
    if last < len(text):
        runs.append((last, len(text), visible_length))
        seen.append(text[last:])
    boundaries = _boundaries("".join(seen))
    ordered = sorted(boundaries)
    points = {len(text)} | {start for start, shown_at in tokens if shown_at in boundaries}
    for start, end, shown_at in runs:
        inside = ordered[bisect_left(ordered, shown_at) : bisect_left(ordered, shown_at + end - start)]
        points.update(start + offset - shown_at for offset in inside)
    return frozenset(points)


def _shown(token: str) -> str:
    return "" if token[0] == "<" else html_module.unescape(token)


def strip_clusters(text: str, *, leading: bool = True, html: bool = False) -> str:
    """`str.strip` that removes only whole clusters: a space carrying a combining mark is a character (and so
    is a prepended mark with the space after it). Only the whitespace next to the kept text can belong to a
    cluster of it, so only that is looked at; with `html`, through the tags between them (a reader sees
    " <b>\u0301" as one character)."""
    stripped = text.rstrip()
    end = len(stripped)
    if end < len(text) and end:
        # The last cluster up to and including the first whitespace character removed.
        window = text[max(0, end - 16) : end + 1]
        if len(_CLUSTER.findall(window)[-1]) > 1:
            end += 1
    text = text[:end]
    if not leading:
        return text
    start = len(text) - len(text.lstrip())
    if 0 < start < len(text):
        after = text[start : start + 64]
        if html:
            after = _TAG.sub("", after)
        carried = _CLUSTER.match(text[start - 1] + after)
        if carried is not None and len(carried.group()) > 1:
            start -= 1
    return text[start:]


def fit(text: str, spec: PlatformSpec, *, first_limit: int | None = None, suffix: str = "") -> list[str]:
    """Return the parts `text` must be published as, each within the limit.

    A post that fits is returned whole. Otherwise it is split at the coarsest boundary that works
    (paragraph, line, sentence, word); only a single word longer than a whole message is cut, between two
    user-perceived characters, since there is no other way to publish it. `first_limit` is a smaller limit for
    the first part (a photo's caption). `suffix` ends every part, after a blank line (a link each tweet of a
    thread carries). Raises FitError when more parts than the platform's declared maximum would be needed, or
    when one user-perceived character alone is longer than a message.
    """
    text = strip_clusters(text, html=spec.markup.is_html)
    tail = f"\n\n{suffix}" if suffix else ""
    first = first_limit or spec.max_length
    length = spec.measure(text + tail)
    if length <= first:
        return [text + tail]
    if spec.max_parts <= 1:
        raise FitError(f"{spec.label}: {length} > {first} and the platform takes one part only")
    # Tags count towards no limit but MAX's, so closing and reopening them changes no other length.
    # Leave room for "12/12" on a line of its own when parts are numbered, and for the suffix.
    reserve = spec.measure(f"\n{spec.max_parts}/{spec.max_parts}") if spec.number_parts else 0
    if tail:
        reserve += spec.measure(tail)

    def budget(index: int) -> int:
        return (first if index == 0 else spec.max_length) - reserve

    def too_many() -> FitError:
        # Packing stops as soon as one part too many is needed: what it would take in all is estimated, not
        # packed, so that a text of any length costs no more than the platform's parts to look at.
        needed = max(spec.max_parts + 1, -(-length // max(1, spec.max_length - reserve)))
        return FitError(f"{spec.label}: the post needs {needed} parts of at most {spec.max_length}, "
                        f"more than the {spec.max_parts} this platform allows; shorten the text")

    html = spec.markup.is_html
    packer = _Packer(budget=budget, measure=spec.measure, html=html, label=spec.label, max_parts=spec.max_parts,
                     too_many=too_many)

    def packed(room: int) -> list[str]:
        shrunk = replace(packer, budget=lambda index: budget(index) - room)
        found = shrunk.pack(text, 0, 0)
        if any(spec.measure(part) > budget(index) - room for index, part in enumerate(found)):
            # A measure that did not add up across a cut (none we know of): pack again measuring every candidate.
            found = replace(shrunk, additive=False).pack(text, 0, 0)
        return rebalance(found) if html else found

    parts = packed(0)
    if spec.tags_count:
        # Where tags count (MAX), the tags closed at the end of a part and reopened at the start of the next take
        # room too: pack again with that much less, until every part fits with them.
        room = 0
        for _ in range(8):
            over = max(spec.measure(part) - budget(index) for index, part in enumerate(parts))
            if over <= 0:
                break
            room += over
            parts = packed(room)
        else:
            raise FitError(f"{spec.label}: cannot split the post so that each part fits {spec.max_length} "
                           "with the tags it must close and reopen")
    if len(parts) > spec.max_parts:
        raise too_many()
    parts = [part + tail for part in parts]
    if spec.number_parts and len(parts) > 1:
        parts = [f"{part}\n{i}/{len(parts)}" for i, part in enumerate(parts, 1)]
    return parts


@dataclass(frozen=True, kw_only=True)
class _Packer:
    budget: Callable[[int], int]  # the limit of part number i
    measure: Callable[[str], int]
    html: bool
    label: str
    max_parts: int
    too_many: Callable[[], FitError]
    additive: bool = True  # a part's length is the sum of its pieces' (see `pack`)

    def done_with(self, parts: list[str], done: int) -> None:
        """Stop at the first part past the platform's maximum: the rest of the text need not be looked at."""
        if done + len(parts) > self.max_parts:
            raise self.too_many()

    def split(self, text: str, level: int) -> list[str]:
        separator, _ = _LEVELS[level]
        allowed = cut_points(text, self.html)
        pieces: list[str] = []
        last = 0
        for match in separator.finditer(text):
            # A space followed by a combining mark is part of that character: no place to split.
            if match.start() in allowed and match.end() in allowed:
                pieces.append(text[last : match.start()])
                last = match.end()
        pieces.append(text[last:])
        return pieces

    def pack(self, text: str, level: int, done: int) -> list[str]:
        """Greedily pack pieces of `text` (split at `level`) into parts; part number i gets `budget(i)`.

        `done` counts the parts completed before `text` began, so that nested levels know which part they fill.
        Each piece is measured once and a part's length is the sum of its pieces' and joiners' lengths: every
        measure we declare adds up across a cut point (measuring each candidate afresh made X's twitter-text
        count, ~5 µs a character, grow with the square of the text). `fit` checks the parts it returns.
        """
        if level == len(_LEVELS):
            return self.cut(text, done)
        _, joiner = _LEVELS[level]
        glue = self.measure(joiner)
        parts: list[str] = []
        current, length = "", 0
        for raw in self.split(text, level):
            piece = strip_clusters(raw, leading=joiner != "\n", html=self.html)
            if not piece:
                continue
            size = self.measure(piece)
            limit = self.budget(done + len(parts))
            if current:
                joined = f"{current}{joiner}{piece}"
                total = length + glue + size if self.additive else self.measure(joined)
                if total <= limit:
                    current, length = joined, total
                    continue
            if current:
                parts.append(current)
                self.done_with(parts, done)
                limit = self.budget(done + len(parts))
            if size <= limit:
                current, length = piece, size
            else:
                smaller = self.pack(piece, level + 1, done + len(parts))
                parts.extend(smaller[:-1])
                self.done_with(parts, done)
                current = smaller[-1]
                length = self.measure(current)
        if current:
            parts.append(current)
        return parts

    def cut(self, word: str, done: int) -> list[str]:
        """Last resort for one overlong word: cut between user-perceived characters, never inside a tag or
        entity."""
        points = sorted(cut_points(word, self.html))
        atoms = [word[start:end] for start, end in pairwise(points)]
        parts: list[str] = []
        while atoms:
            limit = self.budget(done + len(parts))

            def fits(count: int) -> bool:
                return self.measure("".join(atoms[:count])) <= limit  # noqa: B023 - used within this iteration
            # The longest prefix within the budget: galloping, then bisection, so that what is measured depends
            # on the size of a part, not of the word (measuring is the costly part).
            low, high = 1, 2
            while high <= len(atoms) and fits(high):
                low, high = high, high * 2
            high = min(high, len(atoms) + 1) - 1
            while low < high:
                middle = (low + high + 1) // 2
                if fits(middle):
                    low = middle
                else:
                    high = middle - 1
            if low == 1 and self.measure(atoms[0]) > limit:
                shown = atoms[0][:12].encode("unicode_escape").decode()
                raise FitError(
                    f"{self.label}: one character ('{shown}…', {len(atoms[0])} code points) is longer than a "
                    f"message ({limit}); it cannot be split without breaking it"
                )
            # A cut next to a line break (the word was cut only because no separator was a cut point).
            if part := strip_clusters("".join(atoms[:low]), html=self.html):
                parts.append(part)
                self.done_with(parts, done)
            atoms = atoms[low:]
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
