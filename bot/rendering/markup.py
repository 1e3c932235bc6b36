"""Checks that HTML is what Telegram, MAX or Dzen accept, and turns a rendered post into Dzen article HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from bot.rendering.fitting import rebalance

# core.telegram.org/bots/api#html-style: the only tags and attributes Telegram's HTML parse mode knows.
TELEGRAM_TAGS: dict[str, frozenset[str]] = {
    **{tag: frozenset() for tag in ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code")},
    "a": frozenset({"href"}),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "tg-emoji": frozenset({"emoji-id"}),
    # A date_time entity (Bot API 9.5): each reader's app shows the moment in their own zone, or with format "r"
    # as the time left from when they read it.
    "tg-time": frozenset({"unix", "format"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
}
# dzen.ru/help/ru/website/rss-modify: tags allowed inside content:encoded.
DZEN_TAGS: dict[str, frozenset[str]] = {
    **{tag: frozenset() for tag in ("p", "b", "i", "u", "s", "h1", "h2", "h3", "h4", "blockquote", "ul", "ol")},
    "li": frozenset(),
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt"}),
    "figure": frozenset(),
    "figcaption": frozenset(),
}
# MAX Bot API schema (max-messenger/api-schema), "HTML support": only these tags; all others are stripped.
MAX_TAGS: dict[str, frozenset[str]] = {
    **{tag: frozenset() for tag in ("b", "strong", "i", "em", "del", "s", "ins", "u", "pre", "code", "mark",
                                    "blockquote", "h1")},
    "a": frozenset({"href"}),
}
_VOID = frozenset({"img"})
_TELEGRAM_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})


class _Checker(HTMLParser):
    def __init__(self, allowed: dict[str, frozenset[str]], named_entities: frozenset[str] | None) -> None:
        super().__init__(convert_charrefs=False)
        self.allowed = allowed
        self.named_entities = named_entities
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.allowed:
            self.problems.append(f"tag <{tag}> is not allowed")
            return
        for name, _ in attrs:
            if name not in self.allowed[tag]:
                self.problems.append(f"attribute {name!r} is not allowed on <{tag}>")
        if tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            self.problems.append('<span> needs class="tg-spoiler"')
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> does not close the open tag")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for char in "<>&":
            if char in data:
                self.problems.append(f"unescaped {char!r} in text")

    def handle_entityref(self, name: str) -> None:
        if self.named_entities is not None and name not in self.named_entities:
            self.problems.append(f"entity &{name}; is not supported")

    def handle_comment(self, data: str) -> None:
        self.problems.append("comments are not allowed")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("declarations are not allowed")


# An '&' that does not start a complete reference: Python's parser would accept "&amp" or "&T" silently.
_BARE_AMPERSAND = re.compile(r"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[a-zA-Z][a-zA-Z0-9]*;)")


def _check(text: str, allowed: dict[str, frozenset[str]], entities: frozenset[str] | None) -> list[str]:
    checker = _Checker(allowed, entities)
    if _BARE_AMPERSAND.search(text):
        checker.problems.append("unescaped '&' in text (or an entity without its ';')")
    checker.feed(text)
    checker.close()
    if checker.rawdata:
        checker.problems.append(f"unfinished markup at the end: {checker.rawdata[:20]!r}")
    checker.problems.extend(f"<{tag}> is never closed" for tag in checker.stack)
    return checker.problems


def telegram_html_problems(text: str) -> list[str]:
    """Why Telegram would refuse `text` in HTML parse mode; empty when it is valid."""
    return _check(text, TELEGRAM_TAGS, _TELEGRAM_ENTITIES)


def max_html_problems(text: str) -> list[str]:
    """Why MAX would not show `text` as written in `format: "html"` (it strips unknown tags); empty when valid."""
    return _check(text, MAX_TAGS, _TELEGRAM_ENTITIES)


def dzen_html_problems(text: str) -> list[str]:
    """Why Dzen's RSS import would reject `text` as article HTML; empty when it is valid."""
    return _check(text, DZEN_TAGS, None)


def to_dzen_html(text: str) -> str:
    """Turn a post rendered as paragraphs and "• " lists into Dzen article blocks.

    Dzen has no <br>: each line becomes a <p>, and each run of bullet lines a <ul>. A tag that spans
    lines (a bold title with a line break) is closed at the end of each line and reopened on the next.
    """
    blocks: list[str] = []
    items: list[str] = []
    for line in (line.strip() for line in rebalance(text.split("\n"))):
        if line.startswith("• "):
            items.append(f"<li>{line[2:]}</li>")
            continue
        if items:
            blocks.append(f"<ul>{''.join(items)}</ul>")
            items = []
        if line:
            blocks.append(f"<p>{line}</p>")
    if items:
        blocks.append(f"<ul>{''.join(items)}</ul>")
    return "\n".join(blocks)
