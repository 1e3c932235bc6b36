"""Telegram's HTML parse mode as its documentation states it, written for the fake on its own (no bot code).

core.telegram.org/bots/api#formatting-options and #html-style:
- only these tags: b, strong, i, em, u, ins, s, strike, del, span class="tg-spoiler", tg-spoiler, a href,
  tg-emoji emoji-id, tg-time unix [format] (a date_time entity: format "r" for relative time, or letters
  for the weekday, the short or long date and the short or long time: "w", "d"/"D", "t"/"T"), code,
  pre (with code class="language-..." inside), blockquote [expandable];
- every <, > and & that is not part of a tag or an entity must be escaped; all numeric entities are
  supported, and of the named ones only &lt; &gt; &amp; &quot;;
- entities nest only so: bold, italic, underline, strikethrough and spoiler may contain and be part of any
  other entity except pre and code; blockquotes do not nest; the other entities do not contain each other
  (a pre may hold one code to name its language);
- lengths are counted after entity parsing (tags do not count, "&amp;" is one character), in UTF-16 code units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMATTING = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "span"})
OTHER = frozenset({"a", "tg-emoji", "tg-time", "code", "pre", "blockquote"})
_TIME_FORMAT = re.compile(r"^(r|w?[dD]?[tT]?)$")
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>")
_ATTRIBUTE = re.compile(r"([A-Za-z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_SPECIAL = re.compile(r"[<>&]")
_ENTITY = re.compile(r"&(?:([A-Za-z][A-Za-z0-9]*)|#([0-9]+)|#[xX]([0-9A-Fa-f]+));")


class MarkupError(ValueError):
    """Why Telegram would answer "Bad Request: can't parse entities: ..."."""


@dataclass(frozen=True)
class _Open:
    tag: str
    offset: int


def parse(text: str) -> str:
    """The text a reader sees of `text` in HTML parse mode; MarkupError where Telegram would refuse it."""
    visible: list[str] = []
    stack: list[_Open] = []
    index = 0
    for special in _SPECIAL.finditer(text):
        start = special.start()
        if start < index:
            continue  # inside a tag or an entity already consumed
        visible.append(text[index:start])
        char = special[0]
        if char == "<":
            match = _TAG.match(text, start)
            if match is None:
                raise MarkupError(f"Unclosed start tag at byte offset {_bytes(text, start)}")
            closing, name, attributes = match[1] == "/", match[2].lower(), match[3]
            if closing:
                _close(stack, name, _bytes(text, start))
            else:
                _open(stack, name, _attributes(attributes), _bytes(text, start))
            index = match.end()
        elif char == "&":
            match = _ENTITY.match(text, start)
            if match is None:
                raise MarkupError(f"Unescaped '&' at byte offset {_bytes(text, start)}: use &amp;")
            visible.append(_entity(match, _bytes(text, start)))
            index = match.end()
        else:
            raise MarkupError(f"Unescaped '>' at byte offset {_bytes(text, start)}: use &gt;")
    visible.append(text[index:])
    if stack:
        raise MarkupError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return "".join(visible)


def utf16_length(text: str) -> int:
    """Telegram's length of visible text: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _open(stack: list[_Open], tag: str, attributes: dict[str, str | None], offset: int) -> None:
    if tag not in FORMATTING | OTHER:
        raise MarkupError(f'Unsupported start tag "{tag}" at byte offset {offset}')
    allowed: dict[str, frozenset[str]] = {
        "a": frozenset({"href"}), "span": frozenset({"class"}), "tg-emoji": frozenset({"emoji-id"}),
        "code": frozenset({"class"}), "blockquote": frozenset({"expandable"}), "tg-time": frozenset({"unix", "format"}),
    }
    for name in attributes:
        if name not in allowed.get(tag, frozenset()):
            raise MarkupError(f'Unsupported attribute "{name}" of tag "{tag}" at byte offset {offset}')
    if tag == "span" and attributes.get("class") != "tg-spoiler":
        raise MarkupError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if tag == "a" and not attributes.get("href"):
        raise MarkupError(f'Tag "a" must have a non-empty href at byte offset {offset}')
    if tag == "tg-emoji" and not (attributes.get("emoji-id") or "").isdigit():
        raise MarkupError(f'Tag "tg-emoji" must have a numeric emoji-id at byte offset {offset}')
    if tag == "tg-time" and (not (attributes.get("unix") or "").isdigit()
                             or not _TIME_FORMAT.match(attributes.get("format") or "")):
        raise MarkupError(f'Tag "tg-time" must have a numeric unix time and a valid format at byte offset {offset}')
    inside = [open_.tag for open_ in stack]
    if tag == "code" and "class" in attributes and (
        not inside or inside[-1] != "pre" or not str(attributes["class"]).startswith("language-")
    ):
        raise MarkupError(f"A programming language can be named only for code inside pre, at byte offset {offset}")
    if any(t in ("code", "pre") for t in inside) and not (tag == "code" and inside[-1] == "pre"):
        raise MarkupError(f'Tag "{tag}" can\'t be inside pre or code, at byte offset {offset}')
    if tag in OTHER and tag not in ("code",) and tag in inside:
        raise MarkupError(f'Tag "{tag}" can\'t be nested in itself, at byte offset {offset}')
    if tag in ("a", "tg-emoji") and any(t in ("a", "tg-emoji") for t in inside):
        raise MarkupError(f'Tag "{tag}" can\'t be inside a link or custom emoji, at byte offset {offset}')
    stack.append(_Open(tag, offset))


def _close(stack: list[_Open], tag: str, offset: int) -> None:
    if not stack:
        raise MarkupError(f'Unexpected end tag "{tag}" at byte offset {offset}')
    if stack[-1].tag != tag:
        raise MarkupError(
            f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1].tag}>", found "</{tag}>"'
        )
    stack.pop()


def _attributes(source: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for match in _ATTRIBUTE.finditer(source):
        value = next((group for group in match.groups()[1:] if group is not None), None)
        found[match[1].lower()] = parse(value) if value else value  # attribute values hold entities too
    return found


def _entity(match: re.Match[str], offset: int) -> str:
    name, decimal, hexadecimal = match.groups()
    if name is not None:
        if name not in NAMED_ENTITIES:
            raise MarkupError(f'Unsupported HTML entity "&{name};" at byte offset {offset}')
        return NAMED_ENTITIES[name]
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise MarkupError(f"Invalid character reference at byte offset {offset}")
    return chr(code)


def _bytes(text: str, index: int) -> int:
    return len(text[:index].encode())
